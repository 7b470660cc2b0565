/* prefect.c -- see prefect.h. */
#include "prefect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "buf.h"
#include "http_client.h"
#include "xalloc.h"

struct prefect {
    char *url, *api_key, *flow, *deployment;
    bool send_parameters;
    char deployment_id[128];
    struct http_client *http; /* NULL: libcurl could not make a handle */
};

/* Beyond the common classification: 408, Prefect's own "try again". */
static bool retry_408(long status, const char *code)
{
    (void)code;
    return status == 408;
}

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
    long timeout_s = cfg->prefect_timeout_s;
    struct http_client_config hc = {
        .timeout_s = timeout_s,
        .connect_timeout_s = timeout_s < 5 ? timeout_s : 5,
        .tls_verify = true,
        .max_attempts = 3,
        .retry_base_ms = 500,
        .retry_cap_ms = 1000,
        .retry_also = retry_408,
    };
    char err[256];
    p->http = http_client_new(&hc, err, sizeof err);
    if (p->http == NULL) /* triggers fail (and say so); data and commits go on */
        log_error(lg, "Prefect: libcurl could not make a handle; triggers will fail");
    return p;
}

void prefect_free(struct prefect *p)
{
    if (p == NULL)
        return;
    http_client_free(p->http);
    free(p->url);
    secret_free(p->api_key);
    free(p->flow);
    free(p->deployment);
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

/* One HTTP exchange with retries; returns the final status (0: no answer).
 * The answer's body is then in http_client_response(p->http). */
static long exchange(struct prefect *p, const char *method, const char *url, const char *json,
                     char *err, size_t errlen)
{
    if (p->http == NULL) {
        snprintf(err, errlen, "%s %s: libcurl could not make a handle", method, url);
        return 0;
    }
    struct buf auth = {0};
    struct http_header h[3] = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    size_t n = 2;
    if (p->api_key) {
        buf_append(&auth, "Bearer ", 7);
        buf_append(&auth, p->api_key, strlen(p->api_key) + 1);
        h[n++] = (struct http_header){"Authorization", (const char *)auth.data};
    }
    char what[1200];
    snprintf(what, sizeof what, "%s %s", method, url);
    struct http_request rq = {.method = method, .url = url, .headers = h, .nheaders = n,
                              .body = json, .body_len = json ? strlen(json) : 0, .what = what};
    http_perform(p->http, &rq, err, errlen);
    secret_wipe(auth.data, auth.len);
    buf_free(&auth);
    return http_client_response(p->http)->status;
}

static bool lookup(struct prefect *p, char *err, size_t errlen)
{
    if (p->deployment_id[0])
        return true;
    struct buf url = {0};
    buf_append(&url, p->url, strlen(p->url));
    buf_append(&url, "/deployments/name/", 18);
    http_escape(p->flow, &url);
    buf_push(&url, '/');
    http_escape(p->deployment, &url);
    buf_push(&url, '\0');
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
    cJSON *o = cJSON_Parse((const char *)http_client_response(p->http)->body.data);
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
