/* config.h -- cdc-writer's whole configuration, read from the environment.
 *
 * Contract
 * - config_load() reads every variable cdc-writer knows from an environment
 *   block (a NULL-terminated "NAME=value" array, as `environ`), applies the
 *   defaults, validates each value and collects one error line per problem.
 *   It never exits and never prints; the caller decides (main exits with 2).
 * - Secrets (MINIO_ACCESS_KEY excepted, which is an identifier) may be given
 *   as NAME_FILE, the path of a file holding the value (Docker/Kubernetes
 *   secrets); one trailing newline is removed. Setting both NAME and
 *   NAME_FILE is an error.
 * - Every other KAFKA_* variable is passed to librdkafka: KAFKA_SASL_MECHANISM
 *   becomes sasl.mechanism. KAFKA_<X>_FILE passes the file's content.
 * - config_describe() writes the effective configuration with every secret
 *   replaced by "<redacted>"; it is the only way the configuration is logged.
 * - config_free() releases what config_load() allocated; it is safe on a
 *   zeroed or partly loaded config.
 */
#ifndef CDCW_CONFIG_H
#define CDCW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lake_layout.h"
#include "log.h"

enum parquet_codec_choice {
    CODEC_CHOICE_SNAPPY = 0,
    CODEC_CHOICE_ZSTD,
    CODEC_CHOICE_GZIP,
    CODEC_CHOICE_NONE,
};

/* MINIO_PAYLOAD_SIGNING: whether request bodies are hashed into the signature. */
enum payload_signing {
    PAYLOAD_SIGNING_AUTO = 0, /* signed over http, UNSIGNED-PAYLOAD over https */
    PAYLOAD_SIGNING_SIGNED,
    PAYLOAD_SIGNING_UNSIGNED,
};

/* One librdkafka property passed through from a KAFKA_* variable. */
struct kafka_property {
    char *env_name; /* the variable it came from, for error messages */
    char *name;     /* librdkafka property name, e.g. sasl.mechanism */
    char *value;
    bool secret;    /* never logged */
};

struct config {
    /* Kafka */
    char *kafka_bootstrap_servers;
    char *kafka_topic_pattern;
    char *consumer_group_id;
    int kafka_poll_timeout_ms;
    bool kafka_commit_async;
    struct kafka_property *kafka_props;
    size_t kafka_prop_count;

    /* Object store */
    char *minio_endpoint;
    char *minio_access_key;
    char *minio_secret_key;
    char *minio_session_token; /* NULL when unset */
    char *minio_bucket;
    char *minio_region;
    bool minio_use_ssl;
    bool minio_conditional_writes;
    char *minio_ca_bundle;     /* NULL: the system's CA store */
    bool minio_tls_verify;
    enum payload_signing minio_payload_signing;
    bool minio_create_bucket;
    int minio_timeout_s;
    int minio_max_attempts;
    int minio_retry_base_ms;
    int64_t minio_multipart_threshold;
    int64_t minio_part_size;
    int minio_upload_concurrency;
    int decode_workers; /* DECODE_WORKERS: 0 decodes on the consumer thread */

    /* Batching */
    int write_interval_s;
    int64_t max_batch_size;   /* rows per topic-partition buffer */
    int64_t max_batch_bytes;  /* raw message bytes per topic-partition buffer */
    int64_t max_buffer_bytes; /* all buffers together; consumption pauses above */

    /* Parquet */
    enum parquet_codec_choice parquet_compression;
    int64_t parquet_row_group_bytes;
    unsigned cdc_metadata; /* CDC_METADATA: CDC_META_* bits of row_batch.h */
    enum lake_clock partition_time; /* PARTITION_TIME */

    /* Prefect (enabled when prefect_api_url != NULL) */
    char *prefect_api_url;
    char *prefect_api_key;    /* NULL when unset */
    char *prefect_flow_name;
    char *prefect_deployment_name;
    bool prefect_send_parameters;
    int prefect_timeout_s;

    /* Operation */
    enum log_level log_level;
    enum log_format log_format;
    int http_port; /* 0 disables the HTTP endpoint */
    char *http_bind_address;
    int health_store_check_s;
    int health_liveness_timeout_s;
    int check_timeout_s;
};

/* Problems found while loading, one human-readable line each. */
struct config_errors {
    char **lines;
    size_t count;
};

/* Loads the configuration from envp. Returns true when there is no error;
 * otherwise errs holds one line per problem, each naming the variable. */
bool config_load(struct config *cfg, char *const *envp, struct config_errors *errs);
void config_free(struct config *cfg);

/* Appends one formatted line to errs (other modules validating parts of the
 * configuration, such as kafka_conf.c, report through the same list). */
void config_errors_add(struct config_errors *errs, const char *fmt, ...) CDCW_PRINTF(2, 3);
void config_errors_free(struct config_errors *errs);

/* Writes "NAME=value" lines of the effective configuration, secrets redacted. */
void config_describe(const struct config *cfg, FILE *out);

/* Writes the --help table of every variable, its default and meaning. */
void config_print_help(FILE *out);

#endif
