/* http_client.c -- see http_client.h for the contract. */
#define _GNU_SOURCE /* usleep */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "xalloc.h"

struct http_client {
    struct http_client_config cfg;
    char *ca_bundle;
    CURL *curl;
    struct http_response response;
    struct http_stats stats;
    struct buf line; /* one "name: value" header line at a time */
    uint64_t rng;
};

struct http_client *http_client_new(const struct http_client_config *cfg, char *err, size_t errlen)
{
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(err, errlen, "libcurl could not make a handle");
        return NULL;
    }
    struct http_client *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    c->ca_bundle = cfg->ca_bundle ? xstrdup(cfg->ca_bundle) : NULL;
    c->cfg.ca_bundle = c->ca_bundle;
    if (c->cfg.max_attempts < 1)
        c->cfg.max_attempts = 1;
    c->curl = curl;
    /* The address too: clients made in the same second (the upload workers)
     * draw different jitter. */
    c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c ^
             0x9E3779B97F4A7C15ULL;
    return c;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->ca_bundle);
    buf_free(&c->response.body);
    buf_free(&c->response.headers);
    buf_free(&c->line);
    free(c);
}

const struct http_response *http_client_response(const struct http_client *c)
{
    return &c->response;
}

const struct http_stats *http_client_stats(const struct http_client *c)
{
    return &c->stats;
}

bool http_retryable(int curl_code, long status)
{
    if (curl_code != CURLE_OK)
        return curl_code != CURLE_SSL_CACERT_BADFILE && curl_code != CURLE_PEER_FAILED_VERIFICATION &&
               curl_code != CURLE_URL_MALFORMAT && curl_code != CURLE_UNSUPPORTED_PROTOCOL;
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

long http_backoff_ms(int attempt, long base_ms, long cap_ms, uint64_t draw)
{
    long ms = base_ms < cap_ms ? base_ms : cap_ms;
    for (int i = 1; i < attempt && ms < cap_ms; i++)
        ms = ms > cap_ms / 2 ? cap_ms : ms * 2;
    if (ms <= 0)
        return 0;
    return ms / 2 + (long)(draw % (uint64_t)(ms - ms / 2 + 1)); /* equal jitter */
}

void http_escape(const char *s, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            buf_push(out, ch);
        } else {
            buf_push(out, '%');
            buf_push(out, (uint8_t)hex[ch >> 4]);
            buf_push(out, (uint8_t)hex[ch & 15]);
        }
    }
}

bool http_response_header(const struct http_response *r, const char *name, char *out, size_t outlen)
{
    const char *h = (const char *)r->headers.data;
    size_t len = r->headers.len, nl = strlen(name);
    for (size_t i = 0; i + nl < len; i++) {
        if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, name, nl) == 0 && h[i + nl] == ':') {
            const char *v = h + i + nl + 1, *end = h + len;
            while (v < end && *v == ' ')
                v++;
            size_t vl = 0;
            while (v + vl < end && v[vl] != '\r' && v[vl] != '\n')
                vl++;
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    buf_append(ctx, data, size * n);
    return size * n;
}

/* The body's start, control characters as spaces, so it fits on one line. */
static void body_text(const struct buf *body, char *text, size_t textlen)
{
    size_t n = body->len < 300 ? body->len : 300;
    if (n >= textlen)
        n = textlen - 1;
    for (size_t i = 0; i < n; i++)
        text[i] = body->data[i] < 0x20 || body->data[i] == 0x7f ? ' ' : (char)body->data[i];
    text[n] = '\0';
}

static struct curl_slist *header_list(struct http_client *c, const struct http_request *rq)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < rq->nheaders; i++) {
        const struct http_header *h = &rq->headers[i];
        buf_reset(&c->line);
        buf_append(&c->line, h->name, strlen(h->name));
        buf_push(&c->line, ':');
        if (h->value[0]) { /* "Name:" alone: libcurl adds no such header */
            buf_push(&c->line, ' ');
            buf_append(&c->line, h->value, strlen(h->value));
        }
        buf_push(&c->line, '\0');
        list = curl_slist_append(list, (const char *)c->line.data);
    }
    secret_wipe(c->line.data, c->line.cap); /* it may have held a credential */
    return list;
}

static void set_options(struct http_client *c, const struct http_request *rq, struct curl_slist *list)
{
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connections */
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->cfg.timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->cfg.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->response.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->response.headers);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->cfg.tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->cfg.tls_verify ? 2L : 0L);
    if (c->ca_bundle)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
}

static void count_try(struct http_client *c, const char *method, double seconds, CURLcode cc,
                      long status, const char *code, bool retrying)
{
    const struct http_metrics *m = &c->cfg.metrics;
    const char *labels[] = {method};
    metric_add(metric_series(m->requests, labels), 1);
    metric_observe(metric_series(m->duration, labels), seconds);
    if (retrying)
        metric_add(metric_series(m->retries, labels), 1);
    if (cc == CURLE_OK && status >= 200 && status < 300)
        return;
    char text[160];
    if (code[0])
        snprintf(text, sizeof text, "%s", code);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        snprintf(text, sizeof text, "timeout");
    else if (cc != CURLE_OK)
        snprintf(text, sizeof text, "connection");
    else
        snprintf(text, sizeof text, "HTTP_%ld", status);
    const char *codes[] = {text};
    metric_add(metric_series(m->errors, codes), 1);
}

static void sleep_before(struct http_client *c, int attempt)
{
    c->rng ^= c->rng << 13; /* xorshift64 */
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    long ms = http_backoff_ms(attempt, c->cfg.retry_base_ms, c->cfg.retry_cap_ms, c->rng);
    usleep((useconds_t)ms * 1000);
}

bool http_perform(struct http_client *c, const struct http_request *rq, char *err, size_t errlen)
{
    struct http_response *r = &c->response;
    int tries = c->cfg.max_attempts;
    for (int attempt = 1; attempt <= tries; attempt++) {
        if (rq->prepare)
            rq->prepare(rq->ctx, attempt);
        struct curl_slist *list = header_list(c, rq);
        set_options(c, rq, list);
        buf_reset(&r->body);
        buf_reset(&r->headers);
        c->stats.requests++;
        double started = clock_mono_s();
        CURLcode cc = curl_easy_perform(c->curl);
        double took = clock_mono_s() - started;
        curl_slist_free_all(list); /* libcurl's copies of the lines are not wiped */
        r->status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
        buf_push(&r->body, '\0');
        r->body.len--;
        if (cc == CURLE_OK && r->status >= 200 && r->status < 300) {
            count_try(c, rq->method, took, cc, r->status, "", false);
            c->stats.bytes_sent += rq->body_len;
            return true;
        }
        char code[128] = "", text[512] = "";
        if (cc == CURLE_OK && c->cfg.describe_error)
            c->cfg.describe_error(&r->body, code, sizeof code, text, sizeof text);
        else if (cc == CURLE_OK)
            body_text(&r->body, text, sizeof text);
        bool again = attempt < tries &&
                     (http_retryable((int)cc, r->status) ||
                      (cc == CURLE_OK && c->cfg.retry_also && c->cfg.retry_also(r->status, code)));
        count_try(c, rq->method, took, cc, r->status, code, again);
        if (cc != CURLE_OK)
            snprintf(err, errlen, "%s: %s (attempt %d of %d)", rq->what, curl_easy_strerror(cc), attempt,
                     tries);
        else
            snprintf(err, errlen, "%s: HTTP %ld%s%s%s%s (attempt %d of %d)", rq->what, r->status,
                     code[0] ? " " : "", code, text[0] ? ": " : "", text, attempt, tries);
        if (!again)
            break;
        c->stats.retries++;
        if (c->cfg.log)
            log_warn(c->cfg.log, "%s; retrying", err);
        sleep_before(c, attempt);
    }
    c->stats.failures++;
    return false;
}
