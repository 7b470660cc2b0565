/* object_store.c -- see object_store.h for the contract. */
#define _GNU_SOURCE /* memmem */
#include "object_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "sigv4.h"
#include "xalloc.h"

#define MIN_PART_SIZE ((size_t)5 << 20)

struct object_store {
    struct object_store_config cfg;
    char *endpoint, *bucket, *region, *access_key, *secret_key, *session_token;
    char *root; /* file:// target: the directory, else NULL */
    bool sign_body; /* the body's SHA-256 goes into the signature */
    struct http_client *http;
    long status; /* of the last request's last try (0: no answer) */
    struct object_store_stats stats;
};

void object_store_config_default(struct object_store_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tls_verify = true;
    cfg->region = "us-east-1";
    cfg->timeout_s = 30;
    cfg->max_attempts = 6;
    cfg->retry_base_ms = 200;
    cfg->retry_cap_ms = 10000;
    cfg->multipart_threshold = (size_t)64 << 20;
    cfg->part_size = (size_t)16 << 20;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void s3_error(const struct buf *body, char *code, size_t codelen, char *text, size_t textlen);
static bool s3_retry_also(long status, const char *code);

struct object_store *object_store_new(const struct object_store_config *cfg, char *err,
                                      size_t errlen)
{
    struct object_store *os = xcalloc(1, sizeof *os);
    os->cfg = *cfg;
    os->endpoint = xstrdup(cfg->endpoint);
    os->bucket = xstrdup(cfg->bucket);
    os->region = xstrdup(cfg->region ? cfg->region : "us-east-1");
    os->access_key = dup_or_null(cfg->access_key);
    os->secret_key = dup_or_null(cfg->secret_key);
    os->session_token = dup_or_null(cfg->session_token);
    if (os->cfg.part_size < MIN_PART_SIZE)
        os->cfg.part_size = MIN_PART_SIZE;
    if (os->cfg.multipart_threshold < os->cfg.part_size)
        os->cfg.multipart_threshold = os->cfg.part_size;
    os->sign_body = cfg->payload_signing == OBJECT_PAYLOAD_SIGNED ||
                    (cfg->payload_signing == OBJECT_PAYLOAD_AUTO && !cfg->use_ssl);
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
    if (strncmp(cfg->endpoint, "file://", 7) == 0) {
        os->root = xstrdup(cfg->endpoint + 7);
        return os;
    }
    char why[256];
    os->http = http_client_new(&hc, why, sizeof why);
    if (os->http == NULL) {
        set_err(err, errlen, "object store: %s", why);
        object_store_free(os);
        return NULL;
    }
    if (cfg->use_ssl && !cfg->tls_verify && cfg->log != NULL)
        log_warn(cfg->log, "TLS certificate verification of the object store is OFF "
                           "(MINIO_TLS_VERIFY=false): connections can be intercepted");
    return os;
}

void object_store_free(struct object_store *os)
{
    if (os == NULL)
        return;
    http_client_free(os->http);
    secret_free(os->secret_key);
    free(os->endpoint);
    free(os->bucket);
    free(os->region);
    free(os->access_key);
    free(os->session_token);
    free(os->root);
    free(os);
}

const struct object_store_stats *object_store_stats(const struct object_store *os)
{
    return &os->stats;
}

/* ---------- HTTP ---------- */

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

static void build_url(struct object_store *os, const struct request *rq, struct buf *path,
                      struct buf *url)
{
    buf_reset(path);
    buf_push(path, '/');
    buf_append(path, os->bucket, strlen(os->bucket));
    if (rq->key != NULL) {
        buf_push(path, '/');
        buf_append(path, rq->key, strlen(rq->key));
    }
    buf_push(path, '\0');
    path->len--;
    buf_reset(url);
    const char *scheme = os->cfg.use_ssl ? "https://" : "http://";
    buf_append(url, scheme, strlen(scheme));
    buf_append(url, os->endpoint, strlen(os->endpoint));
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
    const struct object_store *os;
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
    const struct object_store *os = sg->os;
    sigv4_amz_date((long long)time(NULL), sg->amz_date);
    struct sigv4_request sreq = {
        .method = sg->rq->method, .path = sg->path, .params = sg->rq->params,
        .nparams = sg->rq->nparams, .headers = sg->headers, .nheaders = sg->nsigned,
        .payload_sha256 = sg->payload_hash, .amz_date = sg->amz_date, .region = os->region,
        .service = "s3", .access_key = os->access_key ? os->access_key : "",
        .secret_key = os->secret_key ? os->secret_key : "",
    };
    sigv4_sign(&sreq, &sg->result);
    sg->headers[sg->auth_at].value = (const char *)sg->result.authorization.data;
}

/* One request with retries. On success the answer is in the http_client's
 * response, 2xx. `what` names the operation in errors. */
static bool perform(struct object_store *os, const struct request *rq, const char *what, char *err,
                    size_t errlen)
{
    struct buf path = {0}, url = {0};
    build_url(os, rq, &path, &url);
    char payload_hash[65];
    if (rq->body_len > 0 && !os->sign_body)
        snprintf(payload_hash, sizeof payload_hash, "UNSIGNED-PAYLOAD");
    else
        sigv4_sha256_hex(rq->body ? rq->body : "", rq->body_len, payload_hash);

    /* The one header list: what is signed first, then what is not. */
    struct signing sg = {.os = os, .rq = rq, .path = (const char *)path.data, .payload_hash = payload_hash};
    struct http_header h[MAX_HEADERS];
    char meta_names[MAX_META][80];
    size_t n = 0;
    h[n++] = (struct http_header){"Host", os->endpoint};
    h[n++] = (struct http_header){"x-amz-content-sha256", payload_hash};
    h[n++] = (struct http_header){"x-amz-date", sg.amz_date};
    if (os->session_token)
        h[n++] = (struct http_header){"x-amz-security-token", os->session_token};
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
    bool ok = http_perform(os->http, &hr, err, errlen);
    os->status = http_client_response(os->http)->status;
    const struct http_stats *st = http_client_stats(os->http);
    os->stats.requests = st->requests;
    os->stats.retries = st->retries;
    os->stats.failures = st->failures;
    os->stats.bytes_sent = st->bytes_sent;
    sigv4_result_free(&sg.result);
    buf_free(&path);
    buf_free(&url);
    return ok;
}

static const struct buf *answer(const struct object_store *os)
{
    return &http_client_response(os->http)->body;
}

/* ---------- local directory target ---------- */

static char *file_path(const struct object_store *os, const char *key)
{
    size_t n = strlen(os->root) + strlen(os->bucket) + (key ? strlen(key) : 0) + 3;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s%s%s", os->root, os->bucket, key ? "/" : "", key ? key : "");
    return p;
}

static bool make_parents(char *path, char *err, size_t errlen)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int rc = mkdir(path, 0755);
        *s = '/';
        if (rc != 0 && errno != EEXIST) {
            set_err(err, errlen, "cannot create directory for %s: %s", path, strerror(errno));
            return false;
        }
    }
    return true;
}

static bool file_key_ok(const char *key, char *err, size_t errlen)
{
    if (key[0] == '/' || strstr(key, "..") != NULL) {
        set_err(err, errlen, "object key '%s' is not allowed for a file:// target", key);
        return false;
    }
    return true;
}

/* A file:// object's metadata lives in dir/.cdcw-meta/bucket/key, one
 * "name=value" line each, outside the bucket's tree so no listing sees it. */
static char *file_meta_path(const struct object_store *os, const char *key)
{
    size_t n = strlen(os->root) + strlen(os->bucket) + strlen(key) + 16;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/.cdcw-meta/%s/%s", os->root, os->bucket, key);
    return p;
}

static bool file_put_meta(struct object_store *os, const char *key, const struct object_meta *meta,
                          size_t nmeta, char *err, size_t errlen)
{
    char *path = file_meta_path(os, key);
    bool ok = true;
    if (nmeta == 0) {
        unlink(path); /* none, or a stale one from an earlier object */
    } else if ((ok = make_parents(path, err, errlen))) {
        FILE *f = fopen(path, "w");
        ok = f != NULL;
        for (size_t i = 0; ok && i < nmeta; i++)
            ok = fprintf(f, "%s=%s\n", meta[i].name, meta[i].value) > 0;
        if (f != NULL && fclose(f) != 0)
            ok = false;
        if (!ok)
            set_err(err, errlen, "put %s: cannot write its metadata to %s: %s", key, path, strerror(errno));
    }
    free(path);
    return ok;
}

/* The metadata is written first: an object is never seen with another's. */
static bool file_put(struct object_store *os, const char *key, const void *data, size_t len,
                     const struct object_meta *meta, size_t nmeta, bool if_absent, char *err, size_t errlen)
{
    if (!file_key_ok(key, err, errlen))
        return false;
    char *final = file_path(os, key);
    if (if_absent && access(final, F_OK) == 0) { /* one writer per directory: no race to lose */
        os->status = 412;
        set_err(err, errlen, "put %s: the file exists", key);
        free(final);
        return false;
    }
    if (!file_put_meta(os, key, meta, nmeta, err, errlen)) {
        free(final);
        return false;
    }
    size_t tl = strlen(final) + 32;
    char *tmp = xmalloc(tl);
    snprintf(tmp, tl, "%s.tmp-%ld", final, (long)getpid());
    bool ok = make_parents(final, err, errlen);
    int fd = ok ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    if (ok && fd < 0) {
        set_err(err, errlen, "put %s: cannot create %s: %s", key, tmp, strerror(errno));
        ok = false;
    }
    const char *p = data;
    size_t left = len;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            set_err(err, errlen, "put %s: write failed: %s", key, strerror(errno));
            ok = false;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fd >= 0) {
        if (ok && fsync(fd) != 0) {
            set_err(err, errlen, "put %s: fsync failed: %s", key, strerror(errno));
            ok = false;
        }
        close(fd);
    }
    if (ok && rename(tmp, final) != 0) {
        set_err(err, errlen, "put %s: rename failed: %s", key, strerror(errno));
        ok = false;
    }
    if (!ok && fd >= 0)
        unlink(tmp);
    if (ok)
        os->stats.bytes_sent += len;
    free(tmp);
    free(final);
    return ok;
}

static bool file_get(struct object_store *os, const char *key, struct buf *out, char *err,
                     size_t errlen)
{
    if (!file_key_ok(key, err, errlen))
        return false;
    char *path = file_path(os, key);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "get %s: %s", key, strerror(errno));
        free(path);
        return false;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    free(path);
    return true;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir, const char *rel, char ***keys, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strstr(e->d_name, ".tmp-"))
            continue;
        size_t pl = strlen(dir) + strlen(e->d_name) + 2;
        char *full = xmalloc(pl);
        snprintf(full, pl, "%s/%s", dir, e->d_name);
        size_t rl = strlen(rel) + strlen(e->d_name) + 2;
        char *r = xmalloc(rl);
        snprintf(r, rl, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            walk(full, r, keys, n, cap);
            free(r);
        } else {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *keys = xrealloc(*keys, *cap * sizeof **keys);
            }
            (*keys)[(*n)++] = r;
        }
        free(full);
    }
    closedir(d);
}

static bool file_list(struct object_store *os, const char *prefix, object_list_fn fn, void *ctx)
{
    char *root = file_path(os, NULL);
    char **keys = NULL;
    size_t n = 0, cap = 0;
    walk(root, "", &keys, &n, &cap);
    qsort(keys, n, sizeof *keys, compare_strings);
    bool ok = true;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        if (ok && strncmp(keys[i], prefix, pl) == 0) {
            char *path = file_path(os, keys[i]);
            struct stat st;
            ok = stat(path, &st) != 0 || fn(ctx, keys[i], (uint64_t)st.st_size);
            free(path);
        }
        free(keys[i]);
    }
    free(keys);
    free(root);
    return ok;
}

/* ---------- operations ---------- */

bool object_store_check_bucket(struct object_store *os, bool create, char *err, size_t errlen)
{
    if (os->root != NULL) {
        char *path = file_path(os, NULL);
        struct stat st;
        bool ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        if (!ok && create) {
            char *with_slash = xmalloc(strlen(path) + 2);
            sprintf(with_slash, "%s/", path);
            ok = make_parents(with_slash, err, errlen);
            free(with_slash);
        } else if (!ok) {
            set_err(err, errlen, "bucket '%s' does not exist: no directory %s (set "
                                 "MINIO_CREATE_BUCKET=true to create it)",
                    os->bucket, path);
        }
        free(path);
        return ok;
    }
    struct request rq = {.method = "HEAD"};
    char what[256];
    snprintf(what, sizeof what, "HeadBucket %s", os->bucket);
    if (perform(os, &rq, what, err, errlen))
        return true;
    if (os->status == 404 && create) {
        struct request mk = {.method = "PUT"};
        snprintf(what, sizeof what, "CreateBucket %s", os->bucket);
        return perform(os, &mk, what, err, errlen);
    }
    if (os->status == 404)
        set_err(err, errlen, "bucket '%s' does not exist at %s (HTTP 404; set MINIO_CREATE_BUCKET=true "
                             "to create it)",
                os->bucket, os->endpoint);
    else if (os->status == 403)
        set_err(err, errlen, "access to bucket '%s' at %s is denied (HTTP 403): check MINIO_ACCESS_KEY "
                             "and MINIO_SECRET_KEY, and the bucket policy",
                os->bucket, os->endpoint);
    else if (os->status == 400 || os->status == 301)
        set_err(err, errlen, "bucket '%s' at %s: HTTP %ld (check MINIO_REGION, now '%s')", os->bucket,
                os->endpoint, os->status, os->region);
    return false;
}

bool object_store_get(struct object_store *os, const char *key, struct buf *out, char *err,
                      size_t errlen)
{
    if (os->root != NULL)
        return file_get(os, key, out, err, errlen);
    struct request rq = {.method = "GET", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "GetObject %s", key);
    if (!perform(os, &rq, what, err, errlen))
        return false;
    buf_append(out, answer(os)->data, answer(os)->len);
    return true;
}

bool object_store_list(struct object_store *os, const char *prefix, int page_size,
                       object_list_fn fn, void *ctx, char *err, size_t errlen)
{
    if (os->root != NULL)
        return file_list(os, prefix, fn, ctx);
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
        if (!perform(os, &rq, what, err, errlen))
            return false;
        const char *xml = (const char *)answer(os)->data;
        size_t len = answer(os)->len;
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

/* ---------- uploads ---------- */

struct object_upload {
    struct object_store *os;
    char *key;
    const struct object_meta *meta;
    size_t nmeta;
    struct buf pending; /* bytes not yet sent */
    char upload_id[1024];
    struct buf completion; /* <Part>...</Part> list */
    int parts;
    bool failed;
    bool if_absent; /* on the PutObject or the CompleteMultipartUpload */
};

struct object_upload *object_upload_begin(struct object_store *os, const char *key)
{
    return object_upload_begin_meta(os, key, NULL, 0);
}

struct object_upload *object_upload_begin_meta(struct object_store *os, const char *key,
                                               const struct object_meta *meta, size_t nmeta)
{
    struct object_upload *u = xcalloc(1, sizeof *u);
    u->os = os;
    u->key = xstrdup(key);
    u->meta = meta;
    u->nmeta = nmeta;
    return u;
}

static bool upload_part(struct object_upload *u, const void *data, size_t len, char *err,
                        size_t errlen)
{
    struct object_store *os = u->os;
    char what[1200];
    if (u->upload_id[0] == '\0') {
        struct sigv4_param p[] = {{"uploads", ""}};
        struct request rq = {.method = "POST", .key = u->key, .params = p, .nparams = 1,
                             .meta = u->meta, .nmeta = u->nmeta};
        snprintf(what, sizeof what, "CreateMultipartUpload %s", u->key);
        if (!perform(os, &rq, what, err, errlen))
            return false;
        if (!xml_text((const char *)answer(os)->data, answer(os)->len, "UploadId", u->upload_id,
                      sizeof u->upload_id) ||
            !u->upload_id[0]) {
            set_err(err, errlen, "%s: no UploadId in the answer", what);
            return false;
        }
    }
    char number[16];
    snprintf(number, sizeof number, "%d", u->parts + 1);
    struct sigv4_param p[] = {{"partNumber", number}, {"uploadId", u->upload_id}};
    struct request rq = {.method = "PUT", .key = u->key, .params = p, .nparams = 2, .body = data,
                         .body_len = len};
    snprintf(what, sizeof what, "UploadPart %s part %s", u->key, number);
    if (!perform(os, &rq, what, err, errlen))
        return false;
    /* The ETag response header identifies the part in the completion. */
    char etag[401];
    if (!http_response_header(http_client_response(os->http), "etag", etag, sizeof etag)) {
        set_err(err, errlen, "%s: no ETag in the answer", what);
        return false;
    }
    char line[512];
    snprintf(line, sizeof line, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", number, etag);
    buf_append(&u->completion, line, strlen(line));
    u->parts++;
    return true;
}

bool object_upload_write(struct object_upload *u, const void *data, size_t len, char *err,
                         size_t errlen)
{
    if (u->failed) {
        set_err(err, errlen, "upload of %s already failed", u->key);
        return false;
    }
    buf_append(&u->pending, data, len);
    if (u->os->root != NULL)
        return true;
    /* Send full parts once the object is known to exceed the threshold. */
    size_t part = u->os->cfg.part_size;
    if (u->parts > 0 || u->pending.len > u->os->cfg.multipart_threshold) {
        size_t sent = 0;
        while (u->pending.len - sent >= part + 1) { /* keep bytes for a non-empty last part */
            if (!upload_part(u, u->pending.data + sent, part, err, errlen)) {
                u->failed = true;
                return false;
            }
            sent += part;
        }
        memmove(u->pending.data, u->pending.data + sent, u->pending.len - sent);
        u->pending.len -= sent;
    }
    return true;
}

static void abort_multipart(struct object_upload *u)
{
    if (u->upload_id[0] == '\0')
        return;
    char err[512];
    struct sigv4_param p[] = {{"uploadId", u->upload_id}};
    struct request rq = {.method = "DELETE", .key = u->key, .params = p, .nparams = 1};
    if (!perform(u->os, &rq, "AbortMultipartUpload", err, sizeof err) && u->os->cfg.log)
        log_warn(u->os->cfg.log, "%s (the incomplete upload of %s is left to the bucket's lifecycle "
                                 "rules)",
                 err, u->key);
    u->upload_id[0] = '\0';
}

static void upload_free(struct object_upload *u)
{
    buf_free(&u->pending);
    buf_free(&u->completion);
    free(u->key);
    free(u);
}

void object_upload_abort(struct object_upload *u)
{
    if (u == NULL)
        return;
    abort_multipart(u);
    upload_free(u);
}

/* CompleteMultipartUpload over the parts sent so far. */
static bool complete_multipart(struct object_upload *u, char *err, size_t errlen)
{
    struct object_store *os = u->os;
    struct buf xml = {0};
    const char *head = "<CompleteMultipartUpload>";
    buf_append(&xml, head, strlen(head));
    buf_append(&xml, u->completion.data, u->completion.len);
    const char *tail = "</CompleteMultipartUpload>";
    buf_append(&xml, tail, strlen(tail));
    struct sigv4_param p[] = {{"uploadId", u->upload_id}};
    struct request rq = {.method = "POST", .key = u->key, .params = p, .nparams = 1, .body = xml.data,
                         .body_len = xml.len, .content_type = "application/xml", .if_absent = u->if_absent};
    char what[1200];
    snprintf(what, sizeof what, "CompleteMultipartUpload %s", u->key);
    bool ok = perform(os, &rq, what, err, errlen);
    /* S3 can answer 200 with an error in the body. */
    char code[128];
    if (ok && memmem(answer(os)->data, answer(os)->len, "<Error>", 7) != NULL &&
        xml_text((const char *)answer(os)->data, answer(os)->len, "Code", code, sizeof code)) {
        set_err(err, errlen, "%s: %s", what, code);
        ok = false;
    }
    buf_free(&xml);
    if (ok)
        u->upload_id[0] = '\0';
    return ok;
}

/* Sends data[0..len) in parts (the last may be small), then completes. */
static bool send_parts(struct object_upload *u, const char *data, size_t len, char *err, size_t errlen)
{
    size_t part = u->os->cfg.part_size;
    bool ok = true;
    for (size_t sent = 0; ok && sent < len;) {
        size_t n = len - sent > part ? part : len - sent;
        ok = upload_part(u, data + sent, n, err, errlen);
        sent += n;
    }
    return ok && complete_multipart(u, err, errlen);
}

/* Ends an upload: a failed one is aborted, keeping the failure's status (not
 * the abort's). Frees u; returns ok. */
static bool end_upload(struct object_upload *u, bool ok)
{
    if (!ok) {
        long status = u->os->status;
        abort_multipart(u);
        u->os->status = status;
    }
    upload_free(u);
    return ok;
}

bool object_upload_finish(struct object_upload *u, char *err, size_t errlen)
{
    struct object_store *os = u->os;
    bool ok = !u->failed;
    if (!ok)
        set_err(err, errlen, "upload of %s already failed", u->key);
    if (ok && os->root != NULL) {
        ok = file_put(os, u->key, u->pending.data, u->pending.len, u->meta, u->nmeta, u->if_absent, err, errlen);
    } else if (ok && u->parts == 0 && u->pending.len <= os->cfg.multipart_threshold) {
        struct request rq = {.method = "PUT", .key = u->key, .body = u->pending.data,
                             .body_len = u->pending.len, .meta = u->meta, .nmeta = u->nmeta,
                             .if_absent = u->if_absent};
        char what[1200];
        snprintf(what, sizeof what, "PutObject %s", u->key);
        ok = perform(os, &rq, what, err, errlen);
    } else if (ok) {
        ok = send_parts(u, (const char *)u->pending.data, u->pending.len, err, errlen); /* the rest */
    }
    return end_upload(u, ok);
}

bool object_store_put(struct object_store *os, const char *key, const void *data, size_t len,
                      char *err, size_t errlen)
{
    return object_store_put_meta(os, key, data, len, NULL, 0, err, errlen);
}

static bool put(struct object_store *os, const char *key, const void *data, size_t len,
                const struct object_meta *meta, size_t nmeta, bool if_absent, char *err, size_t errlen)
{
    os->status = 0;
    if (os->root != NULL)
        return file_put(os, key, data, len, meta, nmeta, if_absent, err, errlen);
    if (len <= os->cfg.multipart_threshold) { /* one request, straight from the caller's bytes */
        struct request rq = {.method = "PUT", .key = key, .body = data, .body_len = len,
                             .meta = meta, .nmeta = nmeta, .if_absent = if_absent};
        char what[1200];
        snprintf(what, sizeof what, "PutObject %s", key);
        return perform(os, &rq, what, err, errlen);
    }
    /* Multipart, each part straight from the caller's bytes: no copy. */
    struct object_upload *u = object_upload_begin_meta(os, key, meta, nmeta);
    u->if_absent = if_absent;
    return end_upload(u, send_parts(u, data, len, err, errlen));
}

bool object_store_put_meta(struct object_store *os, const char *key, const void *data, size_t len,
                           const struct object_meta *meta, size_t nmeta, char *err, size_t errlen)
{
    return put(os, key, data, len, meta, nmeta, false, err, errlen);
}

enum object_put_result object_store_put_new(struct object_store *os, const char *key, const void *data,
                                            size_t len, const struct object_meta *meta, size_t nmeta,
                                            char *err, size_t errlen)
{
    if (put(os, key, data, len, meta, nmeta, true, err, errlen))
        return OBJECT_PUT_STORED;
    return os->status == 412 ? OBJECT_PUT_EXISTS : OBJECT_PUT_FAILED;
}

bool object_store_delete(struct object_store *os, const char *key, char *err, size_t errlen)
{
    if (os->root != NULL) {
        if (!file_key_ok(key, err, errlen))
            return false;
        char *path = file_path(os, key), *meta = file_meta_path(os, key);
        bool ok = unlink(path) == 0 || errno == ENOENT;
        if (!ok)
            set_err(err, errlen, "delete %s: %s", key, strerror(errno));
        unlink(meta);
        free(path);
        free(meta);
        return ok;
    }
    struct request rq = {.method = "DELETE", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "DeleteObject %s", key);
    return perform(os, &rq, what, err, errlen);
}

static bool file_head(struct object_store *os, const char *key, const char *name, bool *found,
                      char *value, size_t vlen, char *err, size_t errlen)
{
    if (!file_key_ok(key, err, errlen))
        return false;
    char *path = file_path(os, key);
    struct stat st;
    *found = stat(path, &st) == 0;
    free(path);
    if (!*found)
        return true;
    path = file_meta_path(os, key);
    FILE *f = fopen(path, "r");
    free(path);
    char line[1200];
    size_t nl = strlen(name);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, nl) == 0 && line[nl] == '=') {
            snprintf(value, vlen, "%.*s", (int)strcspn(line + nl + 1, "\n"), line + nl + 1);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    return true;
}

bool object_store_head(struct object_store *os, const char *key, const char *name, bool *found,
                       char *value, size_t vlen, char *err, size_t errlen)
{
    value[0] = '\0';
    *found = false;
    if (os->root != NULL)
        return file_head(os, key, name, found, value, vlen, err, errlen);
    struct request rq = {.method = "HEAD", .key = key};
    char what[1200];
    snprintf(what, sizeof what, "HeadObject %s", key);
    if (!perform(os, &rq, what, err, errlen))
        return os->status == 404; /* not there: an answer, not a failure */
    *found = true;
    char header[96];
    snprintf(header, sizeof header, "x-amz-meta-%s", name);
    http_response_header(http_client_response(os->http), header, value, vlen);
    return true;
}
