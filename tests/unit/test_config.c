/* Unit tests of config.c and kafka_conf.c: every variable's default, valid
 * values, each kind of invalid value and its error text, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kafka_conf.h"
#include "row_batch.h"

#define SECRET "s3cr3t-Value-42"

/* Loads env (NULL-terminated) into cfg; returns whether it was valid. */
static bool load(const char **env, struct config *cfg, struct config_errors *errs)
{
    return config_load(cfg, (char *const *)env, errs);
}

/* The single error line of loading env, which must fail with exactly one. */
static char *single_error(const char **env)
{
    struct config cfg;
    struct config_errors errs = {0};
    assert_false(load(env, &cfg, &errs));
    if (errs.count != 1) {
        for (size_t i = 0; i < errs.count; i++)
            print_error("unexpected: %s\n", errs.lines[i]);
    }
    assert_int_equal(errs.count, 1);
    char *line = strdup(errs.lines[0]);
    config_errors_free(&errs);
    config_free(&cfg);
    return line;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void test_defaults(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=" SECRET, NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    assert_int_equal(errs.count, 0);
    assert_string_equal(cfg.kafka_bootstrap_servers, "kafka:29092");
    assert_string_equal(cfg.kafka_topic_pattern, "^cdc\\.oltp_dabi\\.public\\.(.*)");
    assert_string_equal(cfg.consumer_group_id, "dabi2-minio-lake-writer");
    assert_int_equal(cfg.kafka_poll_timeout_ms, 1000);
    assert_false(cfg.kafka_commit_async);
    assert_string_equal(cfg.minio_endpoint, "minio:9000");
    assert_string_equal(cfg.minio_access_key, "minioadmin");
    assert_string_equal(cfg.minio_secret_key, SECRET);
    assert_null(cfg.minio_session_token);
    assert_string_equal(cfg.minio_bucket, "datalake");
    assert_string_equal(cfg.minio_region, "us-east-1");
    assert_false(cfg.minio_use_ssl);
    assert_null(cfg.minio_ca_bundle);
    assert_true(cfg.minio_tls_verify);
    assert_int_equal(cfg.minio_payload_signing, PAYLOAD_SIGNING_AUTO);
    assert_false(cfg.minio_create_bucket);
    assert_int_equal(cfg.minio_timeout_s, 30);
    assert_int_equal(cfg.decode_workers, 2);
    assert_int_equal(cfg.write_interval_s, 20);
    assert_int_equal(cfg.max_batch_size, 100000);
    assert_int_equal(cfg.max_batch_bytes, 64 << 20);
    assert_int_equal(cfg.max_buffer_bytes, 256 << 20);
    assert_int_equal(cfg.parquet_compression, CODEC_CHOICE_SNAPPY);
    assert_int_equal(cfg.parquet_row_group_bytes, 64 << 20);
    assert_int_equal(cfg.cdc_metadata, CDC_META_SOURCE | CDC_META_KEY);
    assert_null(cfg.prefect_api_url);
    assert_null(cfg.prefect_api_key);
    assert_string_equal(cfg.prefect_flow_name, "cdc_minio_to_duckdb_flow");
    assert_string_equal(cfg.prefect_deployment_name, "dwh-pipeline");
    assert_false(cfg.prefect_send_parameters);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
    assert_int_equal(cfg.http_port, 8080);
    assert_int_equal(cfg.kafka_prop_count, 0);
    config_free(&cfg);
}

static void test_valid_values(void **state)
{
    (void)state;
    const char *env[] = {
        "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092,127.0.0.1:9093",
        "KAFKA_TOPIC_PATTERN=cdc\\.shop\\.public\\.(orders|items)",
        "CONSUMER_GROUP_ID=g1",
        "KAFKA_POLL_TIMEOUT=0.25",
        "KAFKA_COMMIT_ASYNCHRONOUS=TRUE",
        "MINIO_ENDPOINT=127.0.0.1:9000",
        "MINIO_ACCESS_KEY=AKIDEXAMPLE",
        "MINIO_SECRET_KEY=" SECRET,
        "MINIO_SESSION_TOKEN=tok",
        "MINIO_BUCKET=my.lake-1",
        "MINIO_REGION=eu-central-1",
        "MINIO_USE_SSL=yes",
        "MINIO_CA_BUNDLE=/dev/null",
        "MINIO_TLS_VERIFY=off",
        "MINIO_PAYLOAD_SIGNING=Unsigned",
        "MINIO_CREATE_BUCKET=1",
        "MINIO_TIMEOUT_SECONDS=5",
        "DECODE_WORKERS=0",
        "WRITE_INTERVAL_SECONDS=3",
        "MAX_BATCH_SIZE=500",
        "MAX_BATCH_BYTES=2MiB",
        "MAX_BUFFER_BYTES=1G",
        "PARQUET_COMPRESSION=ZSTD",
        "PARQUET_ROW_GROUP_BYTES=1048576",
        "CDC_METADATA= Headers ,source ",
        "PREFECT_API_URL=http://127.0.0.1:4200/api/",
        "PREFECT_API_KEY=pnu_key",
        "PREFECT_FLOW_NAME=f",
        "PREFECT_DEPLOYMENT_NAME=d",
        "PREFECT_SEND_PARAMETERS=true",
        "LOG_LEVEL=debug",
        "LOG_FORMAT=json",
        "HTTP_PORT=0",
        NULL,
    };
    struct config cfg;
    struct config_errors errs = {0};
    bool ok = load(env, &cfg, &errs);
    for (size_t i = 0; i < errs.count; i++)
        print_error("unexpected: %s\n", errs.lines[i]);
    assert_true(ok);
    assert_string_equal(cfg.kafka_bootstrap_servers, "127.0.0.1:9092,127.0.0.1:9093");
    /* Anchored like a Kafka client's pattern subscription. */
    assert_string_equal(cfg.kafka_topic_pattern, "^cdc\\.shop\\.public\\.(orders|items)");
    assert_string_equal(cfg.consumer_group_id, "g1");
    assert_int_equal(cfg.kafka_poll_timeout_ms, 250);
    assert_true(cfg.kafka_commit_async);
    assert_string_equal(cfg.minio_endpoint, "127.0.0.1:9000");
    assert_string_equal(cfg.minio_access_key, "AKIDEXAMPLE");
    assert_string_equal(cfg.minio_session_token, "tok");
    assert_string_equal(cfg.minio_bucket, "my.lake-1");
    assert_string_equal(cfg.minio_region, "eu-central-1");
    assert_true(cfg.minio_use_ssl);
    assert_string_equal(cfg.minio_ca_bundle, "/dev/null");
    assert_false(cfg.minio_tls_verify);
    assert_int_equal(cfg.minio_payload_signing, PAYLOAD_SIGNING_UNSIGNED);
    assert_true(cfg.minio_create_bucket);
    assert_int_equal(cfg.minio_timeout_s, 5);
    assert_int_equal(cfg.decode_workers, 0);
    assert_int_equal(cfg.write_interval_s, 3);
    assert_int_equal(cfg.max_batch_size, 500);
    assert_int_equal(cfg.max_batch_bytes, 2 << 20);
    assert_int_equal(cfg.max_buffer_bytes, 1 << 30);
    assert_int_equal(cfg.parquet_compression, CODEC_CHOICE_ZSTD);
    assert_int_equal(cfg.parquet_row_group_bytes, 1048576);
    assert_int_equal(cfg.cdc_metadata, CDC_META_SOURCE | CDC_META_HEADERS);
    /* The trailing slash is dropped so request paths do not double it. */
    assert_string_equal(cfg.prefect_api_url, "http://127.0.0.1:4200/api");
    assert_string_equal(cfg.prefect_api_key, "pnu_key");
    assert_string_equal(cfg.prefect_flow_name, "f");
    assert_string_equal(cfg.prefect_deployment_name, "d");
    assert_true(cfg.prefect_send_parameters);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
    assert_int_equal(cfg.http_port, 0);
    config_free(&cfg);
}

static void test_file_endpoint_and_empty_optional(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=x", "MINIO_ENDPOINT=file:///tmp/lake",
                         "PREFECT_API_URL=", "PREFECT_API_KEY=", NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    assert_string_equal(cfg.minio_endpoint, "file:///tmp/lake");
    assert_null(cfg.prefect_api_url);
    assert_null(cfg.prefect_api_key);
    config_free(&cfg);
}

struct invalid_case {
    const char *assignment;
    const char *expected; /* a part of the single error line */
};

static void test_each_invalid_value_names_variable_and_expectation(void **state)
{
    (void)state;
    static const struct invalid_case cases[] = {
        {"KAFKA_BOOTSTRAP_SERVERS=", "KAFKA_BOOTSTRAP_SERVERS: must not be empty"},
        {"KAFKA_TOPIC_PATTERN=cdc\\.(unclosed",
         "KAFKA_TOPIC_PATTERN='cdc\\.(unclosed': not a valid POSIX extended regular expression"},
        {"CONSUMER_GROUP_ID=", "CONSUMER_GROUP_ID: must not be empty"},
        {"KAFKA_POLL_TIMEOUT=soon",
         "KAFKA_POLL_TIMEOUT='soon': expected a number of seconds from 0.01 to 60"},
        {"KAFKA_POLL_TIMEOUT=0", "KAFKA_POLL_TIMEOUT='0': expected a number of seconds"},
        {"KAFKA_POLL_TIMEOUT=1e9", "KAFKA_POLL_TIMEOUT='1e9': expected a number of seconds"},
        {"KAFKA_POLL_TIMEOUT=nan", "KAFKA_POLL_TIMEOUT='nan': expected a number of seconds"},
        {"KAFKA_COMMIT_ASYNCHRONOUS=maybe",
         "KAFKA_COMMIT_ASYNCHRONOUS='maybe': expected true or false"},
        {"MINIO_ENDPOINT=http://minio:9000",
         "MINIO_ENDPOINT='http://minio:9000': expected host:port without a scheme"},
        {"MINIO_ENDPOINT=minio:99999", "MINIO_ENDPOINT='minio:99999': expected host:port with a "
                                       "port from 1 to 65535"},
        {"MINIO_ENDPOINT=minio:9000/path", "MINIO_ENDPOINT='minio:9000/path': expected host:port"},
        {"MINIO_ENDPOINT=file://relative", "MINIO_ENDPOINT='file://relative': expected "
                                           "file:///absolute/path"},
        {"MINIO_ACCESS_KEY=", "MINIO_ACCESS_KEY: must not be empty"},
        {"MINIO_BUCKET=Data_Lake", "MINIO_BUCKET='Data_Lake': expected an S3 bucket name"},
        {"MINIO_BUCKET=ab", "MINIO_BUCKET='ab': expected an S3 bucket name"},
        {"MINIO_BUCKET=a..b", "MINIO_BUCKET='a..b': expected an S3 bucket name"},
        {"MINIO_REGION=", "MINIO_REGION: must not be empty"},
        {"MINIO_USE_SSL=2", "MINIO_USE_SSL='2': expected true or false"},
        {"MINIO_CA_BUNDLE=/nonexistent/ca.pem",
         "MINIO_CA_BUNDLE='/nonexistent/ca.pem': cannot read the file: No such file"},
        {"MINIO_TLS_VERIFY=sometimes", "MINIO_TLS_VERIFY='sometimes': expected true or false"},
        {"MINIO_PAYLOAD_SIGNING=never", "MINIO_PAYLOAD_SIGNING='never': expected auto, signed or "
                                         "unsigned"},
        {"MINIO_CREATE_BUCKET=y", "MINIO_CREATE_BUCKET='y': expected true or false"},
        {"MINIO_TIMEOUT_SECONDS=0", "MINIO_TIMEOUT_SECONDS='0': expected a whole number from 1 "
                                    "to 3600"},
        {"DECODE_WORKERS=65", "DECODE_WORKERS='65': expected a whole number from 0 to 64"},
        {"WRITE_INTERVAL_SECONDS=abc", "WRITE_INTERVAL_SECONDS='abc': expected a whole number "
                                       "from 1 to 86400"},
        {"WRITE_INTERVAL_SECONDS=-5", "WRITE_INTERVAL_SECONDS='-5': expected a whole number"},
        {"WRITE_INTERVAL_SECONDS=1.5", "WRITE_INTERVAL_SECONDS='1.5': expected a whole number"},
        {"WRITE_INTERVAL_SECONDS= 20", "WRITE_INTERVAL_SECONDS=' 20': expected a whole number"},
        {"WRITE_INTERVAL_SECONDS=99999999999999999999",
         "WRITE_INTERVAL_SECONDS='99999999999999999999': expected a whole number"},
        {"MAX_BATCH_SIZE=0", "MAX_BATCH_SIZE='0': expected a whole number from 1 to 1000000000"},
        {"MAX_BATCH_BYTES=10XB", "MAX_BATCH_BYTES='10XB': expected a size from 1024 to"},
        {"MAX_BATCH_BYTES=12", "MAX_BATCH_BYTES='12': expected a size from 1024"},
        {"MAX_BUFFER_BYTES=-1", "MAX_BUFFER_BYTES='-1': expected a size"},
        {"PARQUET_COMPRESSION=lz4", "PARQUET_COMPRESSION='lz4': expected snappy, zstd, gzip or "
                                    "none"},
        {"PARQUET_ROW_GROUP_BYTES=1KiB", "PARQUET_ROW_GROUP_BYTES='1KiB': expected a size"},
        {"PARTITION_TIME=source", "PARTITION_TIME='source': expected kafka, source.ts_ms or ts_ms"},
        {"CDC_METADATA=source,kafka", "CDC_METADATA='source,kafka': 'kafka' is not a group: "
                                      "expected a comma-separated list of source, key and "
                                      "headers, or none"},
        {"CDC_METADATA=", "CDC_METADATA='': an empty group: expected"},
        {"CDC_METADATA=source,,key", "CDC_METADATA='source,,key': an empty group"},
        {"CDC_METADATA=key,", "CDC_METADATA='key,': an empty group"},
        {"CDC_METADATA=none,key", "CDC_METADATA='none,key': none with other groups"},
        {"PREFECT_API_URL=prefect:4200/api", "PREFECT_API_URL='prefect:4200/api': expected an "
                                             "http:// or https:// URL"},
        {"PREFECT_FLOW_NAME=", "PREFECT_FLOW_NAME: must not be empty"},
        {"PREFECT_DEPLOYMENT_NAME=", "PREFECT_DEPLOYMENT_NAME: must not be empty"},
        {"PREFECT_SEND_PARAMETERS=si", "PREFECT_SEND_PARAMETERS='si': expected true or false"},
        {"LOG_LEVEL=verbose", "LOG_LEVEL='verbose': expected DEBUG, INFO, WARNING or ERROR"},
        {"LOG_FORMAT=xml", "LOG_FORMAT='xml': expected text or json"},
        {"HTTP_PORT=70000", "HTTP_PORT='70000': expected a whole number from 0 to 65535"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"MINIO_SECRET_KEY=" SECRET, cases[i].assignment, NULL};
        char *line = single_error(env);
        assert_contains(line, cases[i].expected);
        free(line);
    }
}

static void test_missing_secret_and_bad_interval_give_two_lines(void **state)
{
    (void)state;
    const char *env[] = {"WRITE_INTERVAL_SECONDS=twenty", NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_false(load(env, &cfg, &errs));
    assert_int_equal(errs.count, 2);
    assert_contains(errs.lines[0], "MINIO_SECRET_KEY: required, not set");
    assert_contains(errs.lines[0], "MINIO_SECRET_KEY_FILE");
    assert_contains(errs.lines[1], "WRITE_INTERVAL_SECONDS='twenty': expected a whole number");
    config_errors_free(&errs);
    config_free(&cfg);
}

static void test_invalid_secret_value_is_never_echoed(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=", "MINIO_SESSION_TOKEN=" SECRET,
                         "MINIO_ACCESS_KEY=", NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_false(load(env, &cfg, &errs));
    assert_int_equal(errs.count, 2);
    for (size_t i = 0; i < errs.count; i++)
        assert_null(strstr(errs.lines[i], SECRET));
    config_errors_free(&errs);
    config_free(&cfg);
}

static char *write_temp_file(const char *content)
{
    char *path = strdup("/tmp/cdcw-test-secret-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_secret_from_file(void **state)
{
    (void)state;
    char *path = write_temp_file(SECRET "\n");
    char *path2 = write_temp_file("prefect-key\r\n");
    char var[300], var2[300];
    snprintf(var, sizeof var, "MINIO_SECRET_KEY_FILE=%s", path);
    snprintf(var2, sizeof var2, "PREFECT_API_KEY_FILE=%s", path2);
    const char *env[] = {var, var2, NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    /* One trailing newline (LF or CRLF) is removed, as a shell `echo` adds it. */
    assert_string_equal(cfg.minio_secret_key, SECRET);
    assert_string_equal(cfg.prefect_api_key, "prefect-key");
    config_free(&cfg);
    unlink(path);
    unlink(path2);
    free(path);
    free(path2);
}

static void test_secret_file_errors(void **state)
{
    (void)state;
    const char *missing[] = {"MINIO_SECRET_KEY_FILE=/nonexistent/secret", NULL};
    char *line = single_error(missing);
    assert_contains(line, "MINIO_SECRET_KEY_FILE='/nonexistent/secret': cannot read the file");
    free(line);

    const char *both[] = {"MINIO_SECRET_KEY=a", "MINIO_SECRET_KEY_FILE=/etc/hostname", NULL};
    line = single_error(both);
    assert_contains(line, "MINIO_SECRET_KEY and MINIO_SECRET_KEY_FILE are both set");
    free(line);
}

/* config_describe()'s text, malloc'd. */
static char *described(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_describe(cfg, f);
    fclose(f);
    return text;
}

static void test_describe_redacts_every_secret(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=" SECRET "1",   "MINIO_ACCESS_KEY=" SECRET "2",
                         "MINIO_SESSION_TOKEN=" SECRET "3", "PREFECT_API_KEY=" SECRET "4",
                         "KAFKA_SASL_PASSWORD=" SECRET "5", "KAFKA_SASL_USERNAME=alice",
                         "KAFKA_SSL_KEY_PASSWORD=" SECRET "6", NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    char *text = described(&cfg);
    assert_null(strstr(text, SECRET));
    assert_contains(text, "MINIO_SECRET_KEY=<redacted>\n");
    assert_contains(text, "PREFECT_API_KEY=<redacted>\n");
    assert_contains(text, "KAFKA_SASL_PASSWORD (librdkafka sasl.password)=<redacted>\n");
    assert_contains(text, "KAFKA_SASL_USERNAME (librdkafka sasl.username)=alice\n");
    assert_contains(text, "WRITE_INTERVAL_SECONDS=20\n");
    assert_contains(text, "MINIO_BUCKET=datalake\n");
    assert_contains(text, "CDC_METADATA=source,key\n");
    free(text);
    config_free(&cfg);
}

/* PARTITION_TIME: each clock, in any case, and how config_describe() writes it. */
static void test_partition_time(void **state)
{
    (void)state;
    static const struct {
        const char *assignment;
        enum lake_clock clock;
        const char *described;
    } cases[] = {
        {NULL, LAKE_CLOCK_KAFKA, "PARTITION_TIME=kafka\n"},
        {"PARTITION_TIME=source.ts_ms", LAKE_CLOCK_SOURCE_TS, "PARTITION_TIME=source.ts_ms\n"},
        {"PARTITION_TIME=TS_MS", LAKE_CLOCK_TS, "PARTITION_TIME=ts_ms\n"},
        {"PARTITION_TIME=Kafka", LAKE_CLOCK_KAFKA, "PARTITION_TIME=kafka\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"MINIO_SECRET_KEY=" SECRET, cases[i].assignment, NULL};
        struct config cfg;
        struct config_errors errs = {0};
        assert_true(load(env, &cfg, &errs));
        assert_int_equal(cfg.partition_time, cases[i].clock);
        char *text = described(&cfg);
        assert_contains(text, cases[i].described);
        free(text);
        config_free(&cfg);
    }
}

/* CDC_METADATA: none, every group, and how config_describe() writes them. */
static void test_metadata_groups(void **state)
{
    (void)state;
    static const struct {
        const char *assignment;
        unsigned groups;
        const char *described;
    } cases[] = {
        {"CDC_METADATA=none", 0, "CDC_METADATA=none\n"},
        {"CDC_METADATA=NONE", 0, "CDC_METADATA=none\n"},
        {"CDC_METADATA=headers,key,source", CDC_META_SOURCE | CDC_META_KEY | CDC_META_HEADERS,
         "CDC_METADATA=source,key,headers\n"},
        {"CDC_METADATA=key,key", CDC_META_KEY, "CDC_METADATA=key\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"MINIO_SECRET_KEY=" SECRET, cases[i].assignment, NULL};
        struct config cfg;
        struct config_errors errs = {0};
        assert_true(load(env, &cfg, &errs));
        assert_int_equal(cfg.cdc_metadata, cases[i].groups);
        char *text = described(&cfg);
        assert_contains(text, cases[i].described);
        free(text);
        config_free(&cfg);
    }
}

static void test_kafka_pass_through(void **state)
{
    (void)state;
    char *path = write_temp_file("pw-from-file\n");
    char var[300];
    snprintf(var, sizeof var, "KAFKA_SASL_PASSWORD_FILE=%s", path);
    const char *env[] = {"MINIO_SECRET_KEY=x",
                         "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
                         "KAFKA_SASL_MECHANISM=PLAIN",
                         "KAFKA_SASL_USERNAME=alice",
                         var,
                         "KAFKA_BOOTSTRAP_SERVERS=b:1",
                         "KAFKA_POLL_TIMEOUT=2",
                         NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    /* The daemon's own KAFKA_* variables are not passed through. */
    assert_int_equal(cfg.kafka_prop_count, 4);
    assert_string_equal(cfg.kafka_props[0].name, "security.protocol");
    assert_string_equal(cfg.kafka_props[0].value, "SASL_PLAINTEXT");
    assert_false(cfg.kafka_props[0].secret);
    assert_string_equal(cfg.kafka_props[1].name, "sasl.mechanism");
    assert_string_equal(cfg.kafka_props[3].name, "sasl.password");
    assert_string_equal(cfg.kafka_props[3].value, "pw-from-file");
    assert_true(cfg.kafka_props[3].secret);

    rd_kafka_conf_t *conf = kafka_conf_build(&cfg, &errs);
    assert_non_null(conf);
    assert_int_equal(errs.count, 0);
    char value[256];
    size_t size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "sasl.mechanisms", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "PLAIN");
    size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "enable.auto.commit", value, &size),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(value, "false");
    size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "group.id", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "dabi2-minio-lake-writer");
    if (rd_kafka_version() >= FETCH_QUEUE_BACKOFF_VERSION) { /* not the 1 s default */
        size = sizeof value;
        assert_int_equal(rd_kafka_conf_get(conf, "fetch.queue.backoff.ms", value, &size),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(value, "20");
    }
    rd_kafka_conf_destroy(conf);
    config_free(&cfg);
    unlink(path);
    free(path);
}

static void conf_value(rd_kafka_conf_t *conf, const char *name, const char *expected)
{
    char value[256];
    size_t size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, name, value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, expected);
}

/* librdkafka's prefetch takes its share of MAX_BUFFER_BYTES, within bounds,
 * unless KAFKA_* sets it; kafka_prefetch_bytes() reports what is configured. */
static void test_kafka_prefetch_is_part_of_the_budget(void **state)
{
    (void)state;
    static const struct {
        const char *budget, *queue_kb, *fetch;
        const char *want_queue_kb, *want_fetch;
        int64_t want_prefetch;
    } cases[] = {
        {"256MiB", NULL, NULL, "32768", "33554432", 64LL << 20},
        {"4GiB", NULL, NULL, "65536", "52428800", (64LL << 20) + (50LL << 20)},
        {"2MiB", NULL, NULL, "1024", "1048576", 2LL << 20},
        {"256MiB", "KAFKA_QUEUED_MAX_MESSAGES_KBYTES=2048", "KAFKA_FETCH_MAX_BYTES=4194304", "2048",
         "4194304", 6LL << 20},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char budget[64];
        snprintf(budget, sizeof budget, "MAX_BUFFER_BYTES=%s", cases[i].budget);
        const char *env[] = {"MINIO_SECRET_KEY=x", "MAX_BATCH_BYTES=1MiB", budget, cases[i].queue_kb,
                             cases[i].fetch, NULL};
        if (cases[i].queue_kb == NULL)
            env[3] = NULL;
        struct config cfg;
        struct config_errors errs = {0};
        assert_true(load(env, &cfg, &errs));
        rd_kafka_conf_t *conf = kafka_conf_build(&cfg, &errs);
        assert_non_null(conf);
        conf_value(conf, "queued.max.messages.kbytes", cases[i].want_queue_kb);
        conf_value(conf, "fetch.max.bytes", cases[i].want_fetch);
        assert_int_equal(kafka_prefetch_bytes(&cfg), cases[i].want_prefetch);
        rd_kafka_conf_destroy(conf);
        config_free(&cfg);
    }
}

static void test_kafka_pass_through_errors(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=x", "KAFKA_NO_SUCH_PROPERTY=1",
                         "KAFKA_ENABLE_AUTO_COMMIT=true", "KAFKA_GROUP_ID=other",
                         "KAFKA_SSL_KEY_PASSWORD=" SECRET, "KAFKA_SESSION_TIMEOUT_MS=soon", NULL};
    struct config cfg;
    struct config_errors errs = {0};
    assert_true(load(env, &cfg, &errs));
    rd_kafka_conf_t *conf = kafka_conf_build(&cfg, &errs);
    assert_null(conf);
    assert_int_equal(errs.count, 4);
    assert_contains(errs.lines[0], "KAFKA_NO_SUCH_PROPERTY='1': librdkafka rejects property "
                                   "no.such.property");
    assert_contains(errs.lines[1], "KAFKA_ENABLE_AUTO_COMMIT: property enable.auto.commit cannot "
                                   "be overridden");
    assert_contains(errs.lines[2], "KAFKA_GROUP_ID: property group.id cannot be overridden: set "
                                   "CONSUMER_GROUP_ID instead");
    assert_contains(errs.lines[3], "KAFKA_SESSION_TIMEOUT_MS='soon': librdkafka rejects property "
                                   "session.timeout.ms");
    for (size_t i = 0; i < errs.count; i++)
        assert_null(strstr(errs.lines[i], SECRET));
    config_errors_free(&errs);
    config_free(&cfg);
}

static void test_batch_bytes_above_buffer_bytes(void **state)
{
    (void)state;
    const char *env[] = {"MINIO_SECRET_KEY=x", "MAX_BATCH_BYTES=512MiB", NULL};
    char *line = single_error(env);
    assert_contains(line, "MAX_BATCH_BYTES=536870912 is larger than MAX_BUFFER_BYTES=268435456");
    free(line);
}

static void test_help_lists_every_variable(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f);
    fclose(f);
    static const char *const names[] = {
        "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PATTERN",  "CONSUMER_GROUP_ID",
        "KAFKA_POLL_TIMEOUT",      "KAFKA_COMMIT_ASYNCHRONOUS", "MINIO_ENDPOINT",
        "MINIO_ACCESS_KEY",        "MINIO_SECRET_KEY",     "MINIO_BUCKET",
        "MINIO_USE_SSL",           "MINIO_REGION",         "MINIO_CA_BUNDLE",
        "WRITE_INTERVAL_SECONDS",  "MAX_BATCH_SIZE",       "MAX_BATCH_BYTES",
        "PREFECT_API_URL",         "PREFECT_API_KEY",      "PREFECT_FLOW_NAME",
        "PREFECT_DEPLOYMENT_NAME", "LOG_LEVEL",            "LOG_FORMAT",
        "CDC_METADATA",            "PARTITION_TIME",       "KAFKA_<PROPERTY>",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_contains(text, names[i]);
    assert_contains(text, "dabi2-minio-lake-writer");
    assert_contains(text, "(required)");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_valid_values),
        cmocka_unit_test(test_file_endpoint_and_empty_optional),
        cmocka_unit_test(test_each_invalid_value_names_variable_and_expectation),
        cmocka_unit_test(test_missing_secret_and_bad_interval_give_two_lines),
        cmocka_unit_test(test_invalid_secret_value_is_never_echoed),
        cmocka_unit_test(test_secret_from_file),
        cmocka_unit_test(test_secret_file_errors),
        cmocka_unit_test(test_describe_redacts_every_secret),
        cmocka_unit_test(test_partition_time),
        cmocka_unit_test(test_metadata_groups),
        cmocka_unit_test(test_kafka_pass_through),
        cmocka_unit_test(test_kafka_pass_through_errors),
        cmocka_unit_test(test_kafka_prefetch_is_part_of_the_budget),
        cmocka_unit_test(test_batch_bytes_above_buffer_bytes),
        cmocka_unit_test(test_help_lists_every_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
