/* sigv4_tool -- signs requests described as JSON lines on stdin with
 * cdc-writer's SigV4 signer and prints one Authorization value per line.
 *
 * Input line: {"method","path" (raw),"params":[[name,value],...],
 *              "headers":[[name,value],...],"body","amz_date","region",
 *              "service","access_key","secret_key"}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "sigv4.h"

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

int main(void)
{
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    while (fgets(line, (int)cap, stdin) != NULL) {
        cJSON *o = cJSON_Parse(line);
        if (o == NULL) {
            fprintf(stderr, "sigv4_tool: bad JSON line\n");
            return 2;
        }
        const cJSON *ps = cJSON_GetObjectItem(o, "params"), *hs = cJSON_GetObjectItem(o, "headers");
        size_t np = (size_t)cJSON_GetArraySize(ps), nh = (size_t)cJSON_GetArraySize(hs);
        struct sigv4_param *params = calloc(np + 1, sizeof *params);
        struct http_header *headers = calloc(nh + 1, sizeof *headers);
        for (size_t i = 0; i < np; i++) {
            const cJSON *p = cJSON_GetArrayItem(ps, (int)i);
            params[i].name = cJSON_GetStringValue(cJSON_GetArrayItem(p, 0));
            params[i].value = cJSON_GetStringValue(cJSON_GetArrayItem(p, 1));
        }
        for (size_t i = 0; i < nh; i++) {
            const cJSON *h = cJSON_GetArrayItem(hs, (int)i);
            headers[i].name = cJSON_GetStringValue(cJSON_GetArrayItem(h, 0));
            headers[i].value = cJSON_GetStringValue(cJSON_GetArrayItem(h, 1));
        }
        const char *body = str(o, "body");
        char hash[65];
        sigv4_sha256_hex(body ? body : "", body ? strlen(body) : 0, hash);
        struct sigv4_request rq = {
            .method = str(o, "method"), .path = str(o, "path"), .params = params, .nparams = np,
            .headers = headers, .nheaders = nh, .payload_sha256 = hash, .amz_date = str(o, "amz_date"),
            .region = str(o, "region"), .service = str(o, "service"),
            .access_key = str(o, "access_key"), .secret_key = str(o, "secret_key"),
        };
        struct sigv4_result r = {0};
        sigv4_sign(&rq, &r);
        printf("%s\n", (const char *)r.authorization.data);
        sigv4_result_free(&r);
        free(params);
        free(headers);
        cJSON_Delete(o);
    }
    free(line);
    return 0;
}
