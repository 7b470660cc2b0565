/* prefect.c -- see prefect.h. */
#define _GNU_SOURCE /* usleep */
#include "prefect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "buf.h"
#include "xalloc.h"

struct prefect {
    char *url, *api_key, *flow, *deployment;
    bool send_parameters;
    long timeout_s;
    char deployment_id[128];
    CURL *curl;
    const struct log *log;
    struct buf body;
    uint64_t rng;
};

struct prefect *prefect_new(const struct config *cfg, const struct log *lg)
{
    if (cfg->prefect_api_url == NULL)
        return NULL;
    struct prefect *p = xcalloc(1, sizeof *p);
    p->url = xstrdup(cfg->prefect_api_url);
    p->api_key = cfg->prefect_api_key ? xstrdup(cfg->prefect_api_key) : NULL;
    p->flow = xstrdup(cfg->prefect_flow_name);
    p->deployment = xstrdup(cfg->prefect_deployment_name);
    p->send_parameters = cfg->prefect_send_parameters;
    p->timeout_s = cfg->prefect_timeout_s;
    p->curl = curl_easy_init();
    p->log = lg;
    if (p->curl == NULL) /* triggers fail (and say so); data and commits go on */
        log_error(lg, "Prefect: libcurl could not make a handle; triggers will fail");
    p->rng = (uint64_t)time(NULL) * 6364136223846793005ULL + 1;
    return p;
}

void prefect_free(struct prefect *p)
{
    if (p == NULL)
        return;
    if (p->curl)
        curl_easy_cleanup(p->curl);
    free(p->url);
    secret_free(p->api_key);
    free(p->flow);
    free(p->deployment);
    buf_free(&p->body);
    free(p);
}

void prefect_idempotency_key(const char *key, char out[80])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, key, strlen(key) + 1); /* with its NUL, as the keys of earlier versions */
    unsigned char d[32];
    EVP_DigestFinal_ex(ctx, d, NULL);
    EVP_MD_CTX_free(ctx);
    int n = snprintf(out, 80, "cdc-writer-");
    for (int i = 0; i < 32; i++)
        n += snprintf(out + n, (size_t)(80 - n), "%02x", d[i]);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    buf_append(ctx, data, size * n);
    return size * n;
}

/* One HTTP exchange with retries; returns the final status (0: no answer). */
static long exchange(struct prefect *p, const char *method, const char *url, const char *json,
                     char *err, size_t errlen)
{
    long status = 0;
    if (p->curl == NULL) {
        snprintf(err, errlen, "%s %s: libcurl could not make a handle", method, url);
        return 0;
    }
    for (int attempt = 1; attempt <= 3; attempt++) {
        struct curl_slist *hl = NULL;
        hl = curl_slist_append(hl, "Content-Type: application/json");
        hl = curl_slist_append(hl, "Accept: application/json");
        if (p->api_key) {
            struct buf h = {0};
            buf_append(&h, "Authorization: Bearer ", 22);
            buf_append(&h, p->api_key, strlen(p->api_key) + 1);
            hl = curl_slist_append(hl, (const char *)h.data);
            secret_wipe(h.data, h.len);
            buf_free(&h);
        }
        curl_easy_reset(p->curl);
        curl_easy_setopt(p->curl, CURLOPT_URL, url);
        curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(p->curl, CURLOPT_TIMEOUT, p->timeout_s);
        curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT, p->timeout_s < 5 ? p->timeout_s : 5L);
        curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &p->body);
        if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, json);
            curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
        }
        buf_reset(&p->body);
        CURLcode cc = curl_easy_perform(p->curl);
        curl_slist_free_all(hl);
        status = 0;
        curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
        buf_push(&p->body, '\0');
        p->body.len--;
        bool retry;
        if (cc != CURLE_OK) {
            snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(cc));
            retry = true;
        } else if (status >= 200 && status < 300) {
            return status;
        } else {
            snprintf(err, errlen, "%s %s: HTTP %ld: %.300s", method, url, status,
                     (const char *)p->body.data);
            retry = status == 408 || status == 429 || status >= 500;
        }
        if (!retry || attempt == 3)
            break;
        p->rng = p->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        long ms = 250L << attempt;
        usleep((useconds_t)(ms / 2 + (long)((p->rng >> 33) % (uint64_t)(ms / 2 + 1))) * 1000);
    }
    return status;
}

static bool lookup(struct prefect *p, char *err, size_t errlen)
{
    if (p->deployment_id[0])
        return true;
    char *flow = curl_easy_escape(p->curl, p->flow, 0);
    char *dep = curl_easy_escape(p->curl, p->deployment, 0);
    struct buf url = {0};
    buf_append(&url, p->url, strlen(p->url));
    buf_append(&url, "/deployments/name/", 18);
    buf_append(&url, flow, strlen(flow));
    buf_push(&url, '/');
    buf_append(&url, dep, strlen(dep) + 1);
    curl_free(flow);
    curl_free(dep);
    long status = exchange(p, "GET", (const char *)url.data, NULL, err, errlen);
    buf_free(&url);
    if (status == 404) {
        snprintf(err, errlen, "Prefect deployment '%s/%s' not found at %s (names match exactly: a "
                              "Python @flow without name= is named with hyphens, e.g. "
                              "cdc-minio-to-duckdb-flow; set PREFECT_FLOW_NAME)",
                 p->flow, p->deployment, p->url);
        return false;
    }
    if (status < 200 || status >= 300)
        return false;
    cJSON *o = cJSON_Parse((const char *)p->body.data);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
    bool ok = id != NULL && strlen(id) < sizeof p->deployment_id;
    if (ok)
        snprintf(p->deployment_id, sizeof p->deployment_id, "%s", id);
    else
        snprintf(err, errlen, "Prefect answered the deployment look-up without an id: is "
                              "PREFECT_API_URL the API (ending in /api)?");
    cJSON_Delete(o);
    return ok;
}

const char *prefect_find_deployment(struct prefect *p, char *err, size_t errlen)
{
    return lookup(p, err, errlen) ? p->deployment_id : NULL;
}

bool prefect_trigger(struct prefect *p, const char *bucket, const char *table, const char *key,
                     int64_t rows, char *err, size_t errlen)
{
    if (!lookup(p, err, errlen))
        return false;
    char idem[80];
    prefect_idempotency_key(key, idem);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "idempotency_key", idem);
    if (p->send_parameters) {
        cJSON *params = cJSON_AddObjectToObject(body, "parameters");
        cJSON_AddStringToObject(params, "bucket", bucket);
        cJSON_AddStringToObject(params, "table", table);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "keys"), cJSON_CreateString(key));
        if (rows >= 0)
            cJSON_AddNumberToObject(params, "rows", (double)rows);
        else
            cJSON_AddNullToObject(params, "rows");
    }
    char *json = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    struct buf url = {0};
    buf_append(&url, p->url, strlen(p->url));
    buf_append(&url, "/deployments/", 13);
    buf_append(&url, p->deployment_id, strlen(p->deployment_id));
    buf_append(&url, "/create_flow_run", 17);
    long status = exchange(p, "POST", (const char *)url.data, json, err, errlen);
    buf_free(&url);
    free(json);
    if (status == 404)
        p->deployment_id[0] = '\0'; /* the deployment was recreated: look it up again next time */
    return status >= 200 && status < 300;
}
