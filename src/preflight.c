/* preflight.c -- see preflight.h. */
#include "preflight.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "object_store.h"
#include "prefect.h"
#include "store_config.h"

/* librdkafka's own complaints (connection refused, ...) go to the debug log:
 * the check's one line says what failed. */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct log *lg = rd_kafka_opaque(rk);
    (void)level;
    log_debug(lg, "librdkafka %s: %s", fac, buf);
}

static bool check_kafka(const struct config *cfg, const struct log *lg, int timeout_s, FILE *out)
{
    struct config_errors errs = {0};
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, &errs);
    if (conf == NULL) {
        fprintf(out, "kafka: FAILED: %s\n", errs.count ? errs.lines[0] : "bad configuration");
        config_errors_free(&errs);
        return false;
    }
    rd_kafka_conf_set_opaque(conf, (void *)lg);
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(out, "kafka: FAILED: cannot create a client: %s\n", err);
        return false;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_s * 1000);
    bool ok = false;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(out, "kafka: FAILED: no metadata from KAFKA_BOOTSTRAP_SERVERS=%s within %d s: %s\n",
                cfg->kafka_bootstrap_servers, timeout_s, rd_kafka_err2str(e));
    } else {
        regex_t re;
        int rc = regcomp(&re, cfg->kafka_topic_pattern, REG_EXTENDED | REG_NOSUB);
        int matching = 0;
        const char *first = NULL;
        for (int i = 0; rc == 0 && i < md->topic_cnt; i++) {
            const char *name = md->topics[i].topic;
            if (strncmp(name, "__", 2) == 0 || regexec(&re, name, 0, NULL, 0) != 0)
                continue;
            if (first == NULL)
                first = name;
            matching++;
        }
        if (rc == 0)
            regfree(&re);
        if (matching == 0) {
            fprintf(out, "kafka: FAILED: %d brokers reachable, but none of the %d topics matches "
                         "KAFKA_TOPIC_PATTERN=%s\n",
                    md->broker_cnt, md->topic_cnt, cfg->kafka_topic_pattern);
        } else {
            ok = true;
            fprintf(out, "kafka: ok: %d brokers, %d topics match %s (e.g. %s)\n", md->broker_cnt,
                    matching, cfg->kafka_topic_pattern, first);
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return ok;
}

/* Whether the store refuses a second If-None-Match: * put of one key, as
 * MINIO_CONDITIONAL_WRITES relies on: a probe object, deleted afterwards. */
static bool check_conditional_writes(struct object_store *os, char *err, size_t errlen)
{
    char key[96];
    snprintf(key, sizeof key, ".cdc-writer-check/conditional-%ld-%ld", (long)getpid(), (long)time(NULL));
    enum object_put_result first = object_store_put_new(os, key, "1", 1, NULL, 0, err, errlen);
    if (first != OBJECT_PUT_STORED) {
        if (first == OBJECT_PUT_EXISTS)
            snprintf(err, errlen, "conditional write probe %s: refused although the key was new", key);
        return false;
    }
    enum object_put_result second = object_store_put_new(os, key, "2", 1, NULL, 0, err, errlen);
    char derr[512];
    if (!object_store_delete(os, key, derr, sizeof derr))
        snprintf(err, errlen, "conditional write probe: %s", derr);
    if (second == OBJECT_PUT_STORED)
        snprintf(err, errlen, "conditional writes are not honoured: a second If-None-Match: * put of %s "
                              "was accepted, so instances could overwrite each other's files; set "
                              "MINIO_CONDITIONAL_WRITES=false (see the README's Delivery guarantee)", key);
    return second == OBJECT_PUT_EXISTS;
}

static bool check_store(const struct config *cfg, int timeout_s, FILE *out)
{
    struct object_store_config oc;
    object_store_config_from(&oc, cfg, NULL); /* no log: the one line below says it */
    oc.timeout_s = timeout_s;
    if (oc.max_attempts > 2)
        oc.max_attempts = 2;
    char err[1024];
    struct object_store *os = object_store_new(&oc, err, sizeof err);
    bool ok = os != NULL && object_store_check_bucket(os, false, err, sizeof err);
    const char *conditional = "";
    if (ok && cfg->minio_conditional_writes) {
        ok = check_conditional_writes(os, err, sizeof err);
        conditional = "; conditional writes honoured";
    }
    if (ok)
        fprintf(out, "object store: ok: bucket %s reachable at %s%s\n", cfg->minio_bucket,
                cfg->minio_endpoint, conditional);
    else
        fprintf(out, "object store: FAILED: %s\n", err);
    object_store_free(os);
    return ok;
}

static bool check_prefect(const struct config *cfg, const struct log *lg, FILE *out)
{
    struct prefect *p = prefect_new(cfg, lg);
    if (p == NULL) {
        fprintf(out, "prefect: ok: not configured (PREFECT_API_URL unset), nothing to check\n");
        return true;
    }
    char err[1024] = "";
    const char *id = prefect_find_deployment(p, err, sizeof err);
    if (id != NULL)
        fprintf(out, "prefect: ok: deployment %s/%s found (id %s)\n", cfg->prefect_flow_name,
                cfg->prefect_deployment_name, id);
    else
        fprintf(out, "prefect: FAILED: %s\n", err[0] ? err : "deployment look-up failed");
    prefect_free(p);
    return id != NULL;
}

bool preflight_run(const struct config *cfg, const struct log *lg, int timeout_s, FILE *out)
{
    bool ok = check_kafka(cfg, lg, timeout_s, out);
    fflush(out);
    ok = check_store(cfg, timeout_s, out) && ok;
    fflush(out);
    ok = check_prefect(cfg, lg, out) && ok;
    fflush(out);
    return ok;
}
