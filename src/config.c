/* config.c -- see config.h for the contract.
 *
 * One table describes every variable: its name, default, kind, bounds and
 * help text. Loading, --help and the redacted description all walk it, so a
 * variable cannot be documented in one place and parsed differently in another.
 */
#include "config.h"
#include "row_batch.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum var_kind {
    KIND_STRING,   /* non-empty text, char * */
    KIND_OPTIONAL, /* text or unset (empty counts as unset), char * */
    KIND_BOOL,     /* bool */
    KIND_INT,      /* int within [min, max] */
    KIND_SECONDS,  /* decimal seconds within [min, max], stored as int ms */
    KIND_BYTES,    /* size with optional KiB/MiB/GiB suffix, int64_t */
    KIND_COUNT,    /* whole number within [min, max], int64_t */
    KIND_LOG_LEVEL,
    KIND_LOG_FORMAT,
    KIND_CODEC,    /* enum parquet_codec_choice; these three are choices_of() a word list */
    KIND_SIGNING,  /* enum payload_signing */
    KIND_CLOCK,    /* enum lake_clock */
    KIND_REGEX,    /* a POSIX extended regex, normalized to start with ^ */
    KIND_BUCKET,   /* an S3 bucket name */
    KIND_ENDPOINT, /* host[:port] or file:///path */
    KIND_HTTP_URL, /* http(s)://..., optional */
    KIND_PATH,     /* a readable file, optional */
    KIND_METADATA, /* CDC_METADATA: groups of metadata columns, unsigned */
};

struct var_spec {
    const char *name;
    const char *default_value; /* NULL: no default */
    enum var_kind kind;
    size_t offset;
    bool required;
    bool secret;   /* redacted everywhere; NAME_FILE accepted */
    double min, max;
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

/* In enum order, NULL-terminated. */
static const char *const codec_names[] = {"snappy", "zstd", "gzip", "none", NULL};
static const char *const signing_names[] = {"auto", "signed", "unsigned", NULL};
static const char *const partition_time_names[] = {"kafka", "source.ts_ms", "ts_ms", NULL};

/* A choice's field is an enum written and read as an int. */
_Static_assert(sizeof(enum parquet_codec_choice) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum payload_signing) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum lake_clock) == sizeof(int), "enum as int");

/* CDC_METADATA's words, in the order config_describe() writes them. */
static const struct {
    const char *name;
    unsigned bit;
} metadata_groups[] = {
    {"source", CDC_META_SOURCE},
    {"key", CDC_META_KEY},
    {"headers", CDC_META_HEADERS},
};
#define METADATA_GROUPS (sizeof metadata_groups / sizeof metadata_groups[0])

static const struct var_spec specs[] = {
    {"KAFKA_BOOTSTRAP_SERVERS", "kafka:29092", KIND_STRING, FIELD(kafka_bootstrap_servers), false,
     false, 0, 0, "Kafka bootstrap servers, comma-separated host:port"},
    {"KAFKA_TOPIC_PATTERN", "^cdc\\.oltp_dabi\\.public\\.(.*)", KIND_REGEX,
     FIELD(kafka_topic_pattern), false, false, 0, 0,
     "regex of the topics to consume (POSIX extended); group 1 is the table name, else the "
     "topic's last dot-separated part"},
    {"CONSUMER_GROUP_ID", "dabi2-minio-lake-writer", KIND_STRING, FIELD(consumer_group_id), false,
     false, 0, 0, "Kafka consumer group"},
    {"KAFKA_POLL_TIMEOUT", "1.0", KIND_SECONDS, FIELD(kafka_poll_timeout_ms), false, false, 0.01,
     60, "seconds one poll waits for messages"},
    {"KAFKA_COMMIT_ASYNCHRONOUS", "false", KIND_BOOL, FIELD(kafka_commit_async), false, false, 0, 0,
     "commit offsets without waiting for the broker's answer"},
    {"MINIO_ENDPOINT", "minio:9000", KIND_ENDPOINT, FIELD(minio_endpoint), false, false, 0, 0,
     "object store host:port (no scheme), or file:///path for a local directory"},
    {"MINIO_ACCESS_KEY", "minioadmin", KIND_STRING, FIELD(minio_access_key), false, true, 0, 0,
     "object store access key"},
    {"MINIO_SECRET_KEY", NULL, KIND_STRING, FIELD(minio_secret_key), true, true, 0, 0,
     "object store secret key (required)"},
    {"MINIO_SESSION_TOKEN", NULL, KIND_OPTIONAL, FIELD(minio_session_token), false, true, 0, 0,
     "session token of temporary credentials"},
    {"MINIO_BUCKET", "datalake", KIND_BUCKET, FIELD(minio_bucket), false, false, 0, 0,
     "bucket the files are written to"},
    {"MINIO_REGION", "us-east-1", KIND_STRING, FIELD(minio_region), false, false, 0, 0,
     "region used in request signing"},
    {"MINIO_USE_SSL", "false", KIND_BOOL, FIELD(minio_use_ssl), false, false, 0, 0,
     "use https to reach the object store"},
    {"MINIO_CA_BUNDLE", NULL, KIND_PATH, FIELD(minio_ca_bundle), false, false, 0, 0,
     "PEM file of CA certificates to trust instead of the system's"},
    {"MINIO_TLS_VERIFY", "true", KIND_BOOL, FIELD(minio_tls_verify), false, false, 0, 0,
     "verify the object store's certificate (false is insecure, logged loudly)"},
    {"MINIO_PAYLOAD_SIGNING", "auto", KIND_SIGNING, FIELD(minio_payload_signing), false, false, 0,
     0, "signed, unsigned, or auto: bodies hashed into the signature over http, not over https"},
    {"MINIO_CONDITIONAL_WRITES", "true", KIND_BOOL, FIELD(minio_conditional_writes), false, false,
     0, 0, "write each file only if its key is free (If-None-Match: *), so no instance overwrites "
           "another's file; false for stores without conditional writes"},
    {"MINIO_CREATE_BUCKET", "false", KIND_BOOL, FIELD(minio_create_bucket), false, false, 0, 0,
     "create the bucket at start-up when it is missing"},
    {"MINIO_TIMEOUT_SECONDS", "30", KIND_INT, FIELD(minio_timeout_s), false, false, 1, 3600,
     "timeout of one object store request"},
    {"MINIO_MAX_ATTEMPTS", "6", KIND_INT, FIELD(minio_max_attempts), false, false, 1, 100,
     "tries of one object store request, retries included"},
    {"MINIO_RETRY_BASE_MS", "200", KIND_INT, FIELD(minio_retry_base_ms), false, false, 1, 60000,
     "first retry delay; doubles per retry up to 10 s, with jitter"},
    {"MINIO_MULTIPART_THRESHOLD", "64MiB", KIND_BYTES, FIELD(minio_multipart_threshold), false,
     false, 5 << 20, (double)(5LL << 30), "objects larger than this are uploaded in parts"},
    {"MINIO_PART_SIZE", "16MiB", KIND_BYTES, FIELD(minio_part_size), false, false, 5 << 20,
     (double)(5LL << 30), "size of each part of a multipart upload (at least 5 MiB)"},
    {"MINIO_UPLOAD_CONCURRENCY", "4", KIND_INT, FIELD(minio_upload_concurrency), false, false, 1, 64,
     "files uploaded at the same time, each over its own connection"},
    {"DECODE_WORKERS", "2", KIND_INT, FIELD(decode_workers), false, false, 0, 64,
     "threads that decode messages into column buffers, each partition on one (0: the consumer thread)"},
    {"WRITE_INTERVAL_SECONDS", "20", KIND_INT, FIELD(write_interval_s), false, false, 1, 86400,
     "seconds between flushes of a topic's buffers"},
    {"MAX_BATCH_SIZE", "100000", KIND_COUNT, FIELD(max_batch_size), false, false, 1, 1e9,
     "rows buffered per topic-partition before an early flush"},
    {"MAX_BATCH_BYTES", "64MiB", KIND_BYTES, FIELD(max_batch_bytes), false, false, 1024,
     (double)(1LL << 40), "message bytes buffered per topic-partition before an early flush"},
    {"MAX_BUFFER_BYTES", "256MiB", KIND_BYTES, FIELD(max_buffer_bytes), false, false, 1024,
     (double)(1LL << 40), "message bytes buffered in all; consumption pauses above it"},
    {"PARQUET_COMPRESSION", "snappy", KIND_CODEC, FIELD(parquet_compression), false, false, 0, 0,
     "page compression: snappy, zstd, gzip or none"},
    {"PARQUET_ROW_GROUP_BYTES", "64MiB", KIND_BYTES, FIELD(parquet_row_group_bytes), false, false,
     65536, (double)(1LL << 34), "raw data size at which a Parquet row group is closed"},
    {"CDC_METADATA", "source,key", KIND_METADATA, FIELD(cdc_metadata), false, false, 0, 0,
     "optional metadata columns, comma-separated: source (_cdc_lsn, _cdc_tx_id, _cdc_sequence, "
     "_cdc_snapshot, _cdc_source, _cdc_position, _cdc_tx_order, _cdc_tx_collection_order), key "
     "(_kafka_key), headers (_kafka_headers); or none"},
    {"PARTITION_TIME", "kafka", KIND_CLOCK, FIELD(partition_time), false, false, 0, 0,
     "the clock of year=/month=/day= and of file names: kafka (the record's timestamp), "
     "source.ts_ms (when the database made the change) or ts_ms (when Debezium read it); "
     "a message without that field is placed by its Kafka timestamp"},
    {"PREFECT_API_URL", NULL, KIND_HTTP_URL, FIELD(prefect_api_url), false, false, 0, 0,
     "Prefect API base URL, e.g. http://prefect:4200/api; unset disables triggering"},
    {"PREFECT_API_KEY", NULL, KIND_OPTIONAL, FIELD(prefect_api_key), false, true, 0, 0,
     "Prefect API key, sent as a bearer token"},
    {"PREFECT_FLOW_NAME", "cdc_minio_to_duckdb_flow", KIND_STRING, FIELD(prefect_flow_name), false,
     false, 0, 0, "flow name of the deployment to trigger"},
    {"PREFECT_DEPLOYMENT_NAME", "dwh-pipeline", KIND_STRING, FIELD(prefect_deployment_name), false,
     false, 0, 0, "deployment name to trigger"},
    {"PREFECT_TIMEOUT_SECONDS", "10", KIND_INT, FIELD(prefect_timeout_s), false, false, 1, 300,
     "timeout of one Prefect request"},
    {"PREFECT_SEND_PARAMETERS", "false", KIND_BOOL, FIELD(prefect_send_parameters), false, false,
     0, 0, "pass bucket, table, keys and row count as flow run parameters"},
    {"LOG_LEVEL", "INFO", KIND_LOG_LEVEL, FIELD(log_level), false, false, 0, 0,
     "DEBUG, INFO, WARNING or ERROR"},
    {"LOG_FORMAT", "text", KIND_LOG_FORMAT, FIELD(log_format), false, false, 0, 0,
     "text or json (one JSON object per line)"},
    {"HTTP_PORT", "8080", KIND_INT, FIELD(http_port), false, false, 0, 65535,
     "port of /metrics, /healthz and /readyz; 0 disables"},
    {"HTTP_BIND_ADDRESS", "0.0.0.0", KIND_STRING, FIELD(http_bind_address), false, false, 0, 0,
     "address the HTTP endpoint listens on (IPv4 or IPv6)"},
    {"HEALTH_STORE_CHECK_SECONDS", "10", KIND_INT, FIELD(health_store_check_s), false, false, 1, 3600,
     "seconds between the object store checks behind /readyz"},
    {"CHECK_TIMEOUT_SECONDS", "10", KIND_INT, FIELD(check_timeout_s), false, false, 1, 600,
     "seconds each connectivity check of --check may take"},
    {"HEALTH_LIVENESS_TIMEOUT_SECONDS", "60", KIND_INT, FIELD(health_liveness_timeout_s), false,
     false, 1, 86400, "seconds the main loop may stall before /healthz fails"},
};

#define SPEC_COUNT (sizeof specs / sizeof specs[0])

/* KAFKA_* variables cdc-writer reads itself, never passed through. */
static bool is_own_kafka_variable(const char *name, size_t len)
{
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        size_t n = strlen(specs[i].name);
        if (strncmp(specs[i].name, "KAFKA_", 6) != 0)
            continue;
        if (len == n && strncmp(name, specs[i].name, n) == 0)
            return true;
        if (len == n + 5 && strncmp(name, specs[i].name, n) == 0 &&
            strncmp(name + n, "_FILE", 5) == 0)
            return true;
    }
    return false;
}

void config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *line = malloc((size_t)n + 1);
    char **grown = realloc(errs->lines, (errs->count + 1) * sizeof *grown);
    if (line == NULL || grown == NULL) {
        free(line);
        if (grown != NULL)
            errs->lines = grown;
        return;
    }
    errs->lines = grown;
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    errs->lines[errs->count++] = line;
}

void config_errors_free(struct config_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->count = 0;
}

/* Value of NAME in envp, or NULL. */
static const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* Reads a secret file; removes one trailing "\n" or "\r\n". */
static char *read_secret_file(const char *path, const char *var, struct config_errors *errs)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        config_errors_add(errs, "%s='%s': cannot read the file: %s", var, path, strerror(errno));
        return NULL;
    }
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= (1u << 20)) {
                config_errors_add(errs, "%s='%s': the file is larger than 1 MiB", var, path);
                free(buf);
                buf = NULL;
                break;
            }
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (buf == NULL)
        return NULL;
    if (failed) {
        config_errors_add(errs, "%s='%s': cannot read the file", var, path);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    return buf;
}

/* The raw text of a variable: from NAME, from NAME_FILE when allowed, or the
 * default. Returns a malloc'd copy
 * or NULL (unset and no default, or an error already reported). */
static char *raw_value(char *const *envp, const struct var_spec *spec,
                       struct config_errors *errs)
{
    const char *direct = env_lookup(envp, spec->name);
    char file_var[128];
    snprintf(file_var, sizeof file_var, "%s_FILE", spec->name);
    const char *file = spec->secret ? env_lookup(envp, file_var) : NULL;
    if (direct != NULL && file != NULL) {
        config_errors_add(errs, "%s and %s are both set: set only one of them", spec->name,
                          file_var);
        return NULL;
    }
    if (file != NULL) {
        return read_secret_file(file, file_var, errs);
    }
    bool empty_means_unset =
        spec->kind == KIND_OPTIONAL || spec->kind == KIND_PATH || spec->kind == KIND_HTTP_URL;
    if (direct != NULL && !(direct[0] == '\0' && empty_means_unset)) {
        return strdup(direct);
    }
    return spec->default_value != NULL ? strdup(spec->default_value) : NULL;
}

/* Quoted value for error messages, never showing a secret. */
static void quoted(const struct var_spec *spec, const char *value, char *out, size_t size)
{
    if (spec->secret)
        snprintf(out, size, "(value hidden)");
    else
        snprintf(out, size, "'%.200s'", value);
}

/* The words of a choice's kind, in enum order. */
static const char *const *choices_of(enum var_kind kind)
{
    switch (kind) {
    case KIND_CODEC:
        return codec_names;
    case KIND_SIGNING:
        return signing_names;
    case KIND_CLOCK:
        return partition_time_names;
    default:
        return NULL;
    }
}

/* "a, b or c" of a NULL-terminated word list. */
static void choices_text(const char *const *choices, char *out, size_t size)
{
    size_t n = 0, len = 0;
    while (choices[n] != NULL)
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(out + len, size - len, "%s%s", sep, choices[i]);
        len += w > 0 ? (size_t)w : 0;
    }
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_whole(const char *text, long long *out)
{
    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *text, double *out)
{
    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* "64MiB", "512KiB", "1GiB", "1048576", "10MB" (MB/KB/GB taken as binary units too). */
static bool parse_bytes(const char *text, int64_t *out)
{
    if (text[0] == '\0' || !isdigit((unsigned char)text[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return false;
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0},    {"B", 0},    {"K", 10},  {"KB", 10}, {"KiB", 10}, {"M", 20},
                 {"MB", 20}, {"MiB", 20}, {"G", 30},  {"GB", 30}, {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > (unsigned long long)INT64_MAX >> units[i].shift)
                return false;
            *out = (int64_t)(v << units[i].shift);
            return true;
        }
    }
    return false;
}

/* "source,key", "headers", "none"...: words separated by commas, spaces
 * around them ignored. On failure *bad is the first word that is not a group
 * (empty when a word is missing). */
static bool parse_metadata(const char *text, unsigned *out, char *bad, size_t badlen)
{
    unsigned groups = 0;
    size_t words = 0;
    bool none = false;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = p + strcspn(p, ",");
        size_t n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        size_t i = 0;
        while (i < METADATA_GROUPS && !(strlen(metadata_groups[i].name) == n &&
                                        strncasecmp(p, metadata_groups[i].name, n) == 0))
            i++;
        if (i < METADATA_GROUPS)
            groups |= metadata_groups[i].bit;
        else if (n == 4 && strncasecmp(p, "none", 4) == 0)
            none = true;
        else {
            snprintf(bad, badlen, "%.*s", (int)n, p);
            return false;
        }
        words++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (none && words > 1) {
        snprintf(bad, badlen, "none");
        return false;
    }
    *out = groups;
    return true;
}

static bool valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
            return false;
        if (c == '.' && i + 1 < n && b[i + 1] == '.')
            return false;
    }
    return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[n - 1]);
}

static bool valid_endpoint(const char *e, const char **why)
{
    if (strncmp(e, "file://", 7) == 0) {
        if (e[7] != '/') {
            *why = "expected file:///absolute/path";
            return false;
        }
        return true;
    }
    if (strstr(e, "://") != NULL) {
        *why = "expected host:port without a scheme (set MINIO_USE_SSL=true for https), or "
               "file:///path";
        return false;
    }
    if (e[0] == '\0' || strchr(e, '/') != NULL || strchr(e, ' ') != NULL) {
        *why = "expected host:port, e.g. minio:9000, or file:///path";
        return false;
    }
    const char *colon = strrchr(e, ':');
    if (colon != NULL && e[0] != '[') {
        long long port;
        if (colon == e || !parse_whole(colon + 1, &port) || port < 1 || port > 65535) {
            *why = "expected host:port with a port from 1 to 65535, e.g. minio:9000";
            return false;
        }
    }
    return true;
}

/* Stores one parsed value into cfg; reports an error and returns false otherwise. */
static bool store_value(struct config *cfg, const struct var_spec *spec, char *value,
                        struct config_errors *errs)
{
    void *field = (char *)cfg + spec->offset;
    char shown[256];
    quoted(spec, value, shown, sizeof shown);
    switch (spec->kind) {
    case KIND_STRING:
    case KIND_OPTIONAL:
        if (value[0] == '\0') {
            config_errors_add(errs, "%s: must not be empty (%s)", spec->name, spec->help);
            free(value);
            return false;
        }
        *(char **)field = value;
        return true;
    case KIND_BOOL:
        if (!parse_bool(value, (bool *)field)) {
            config_errors_add(errs, "%s=%s: expected true or false", spec->name, shown);
            free(value);
            return false;
        }
        break;
    case KIND_INT:
    case KIND_COUNT: {
        long long v;
        if (!parse_whole(value, &v) || v < (long long)spec->min || v > (long long)spec->max) {
            config_errors_add(errs, "%s=%s: expected a whole number from %.0f to %.0f", spec->name,
                              shown, spec->min, spec->max);
            free(value);
            return false;
        }
        if (spec->kind == KIND_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = (int64_t)v;
        break;
    }
    case KIND_SECONDS: {
        double v;
        if (!parse_number(value, &v) || v < spec->min || v > spec->max) {
            config_errors_add(errs, "%s=%s: expected a number of seconds from %g to %g, e.g. 1.0",
                              spec->name, shown, spec->min, spec->max);
            free(value);
            return false;
        }
        *(int *)field = (int)lround(v * 1000.0);
        break;
    }
    case KIND_BYTES: {
        int64_t v;
        if (!parse_bytes(value, &v) || (double)v < spec->min || (double)v > spec->max) {
            config_errors_add(errs,
                              "%s=%s: expected a size from %.0f to %.0f bytes, optionally with a "
                              "KiB, MiB or GiB suffix, e.g. 64MiB",
                              spec->name, shown, spec->min, spec->max);
            free(value);
            return false;
        }
        *(int64_t *)field = v;
        break;
    }
    case KIND_LOG_LEVEL:
        if (!log_level_parse(value, (enum log_level *)field)) {
            config_errors_add(errs, "%s=%s: expected DEBUG, INFO, WARNING or ERROR", spec->name,
                              shown);
            free(value);
            return false;
        }
        break;
    case KIND_LOG_FORMAT:
        if (!log_format_parse(value, (enum log_format *)field)) {
            config_errors_add(errs, "%s=%s: expected text or json", spec->name, shown);
            free(value);
            return false;
        }
        break;
    case KIND_CODEC:
    case KIND_SIGNING:
    case KIND_CLOCK: {
        const char *const *choices = choices_of(spec->kind);
        int i = 0;
        while (choices[i] != NULL && strcasecmp(value, choices[i]) != 0)
            i++;
        if (choices[i] == NULL) {
            char expected[256];
            choices_text(choices, expected, sizeof expected);
            config_errors_add(errs, "%s=%s: expected %s", spec->name, shown, expected);
            free(value);
            return false;
        }
        *(int *)field = i;
        break;
    }
    case KIND_REGEX: {
        regex_t re;
        int rc = regcomp(&re, value, REG_EXTENDED);
        if (rc != 0) {
            char why[160];
            regerror(rc, &re, why, sizeof why);
            config_errors_add(errs, "%s=%s: not a valid POSIX extended regular expression: %s",
                              spec->name, shown, why);
            free(value);
            return false;
        }
        regfree(&re);
        if (value[0] != '^') {
            /* Kafka clients match subscription patterns from the topic's start. */
            size_t n = strlen(value);
            char *anchored = malloc(n + 2);
            if (anchored == NULL) {
                free(value);
                return false;
            }
            anchored[0] = '^';
            memcpy(anchored + 1, value, n + 1);
            free(value);
            value = anchored;
        }
        *(char **)field = value;
        return true;
    }
    case KIND_BUCKET:
        if (!valid_bucket(value)) {
            config_errors_add(errs,
                              "%s=%s: expected an S3 bucket name: 3 to 63 lowercase letters, "
                              "digits, dots or hyphens, starting and ending with a letter or digit",
                              spec->name, shown);
            free(value);
            return false;
        }
        *(char **)field = value;
        return true;
    case KIND_ENDPOINT: {
        const char *why = NULL;
        if (!valid_endpoint(value, &why)) {
            config_errors_add(errs, "%s=%s: %s", spec->name, shown, why);
            free(value);
            return false;
        }
        *(char **)field = value;
        return true;
    }
    case KIND_HTTP_URL:
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
            config_errors_add(errs, "%s=%s: expected an http:// or https:// URL, e.g. "
                                    "http://prefect:4200/api",
                              spec->name, shown);
            free(value);
            return false;
        }
        /* A trailing slash would double in the request paths. */
        for (size_t n = strlen(value); n > 8 && value[n - 1] == '/'; n--)
            value[n - 1] = '\0';
        *(char **)field = value;
        return true;
    case KIND_METADATA: {
        char bad[64], what[96];
        if (!parse_metadata(value, (unsigned *)field, bad, sizeof bad)) {
            if (bad[0] == '\0')
                snprintf(what, sizeof what, "an empty group");
            else if (strcasecmp(bad, "none") == 0)
                snprintf(what, sizeof what, "none with other groups");
            else
                snprintf(what, sizeof what, "'%s' is not a group", bad);
            config_errors_add(errs,
                              "%s=%s: %s: expected a comma-separated list of source, key and "
                              "headers, or none",
                              spec->name, shown, what);
            free(value);
            return false;
        }
        break;
    }
    case KIND_PATH: {
        FILE *f = fopen(value, "rb");
        if (f == NULL) {
            config_errors_add(errs, "%s=%s: cannot read the file: %s", spec->name, shown,
                              strerror(errno));
            free(value);
            return false;
        }
        fclose(f);
        *(char **)field = value;
        return true;
    }
    }
    free(value);
    return true;
}

static bool is_secret_property(const char *name)
{
    static const char *const words[] = {"password", "secret", "jaas", "key", "token",
                                        "oauthbearer.config", "credential"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(name, words[i]) != NULL)
            return true;
    return false;
}

static void add_kafka_property(struct config *cfg, const char *env_name, size_t env_len,
                               const char *value, bool from_file, struct config_errors *errs)
{
    size_t suffix = from_file ? 5 : 0;
    size_t plen = env_len - 6 - suffix;
    char *prop = malloc(plen + 1);
    char *env = strndup(env_name, env_len);
    struct kafka_property *grown =
        realloc(cfg->kafka_props, (cfg->kafka_prop_count + 1) * sizeof *grown);
    if (prop == NULL || env == NULL || grown == NULL) {
        free(prop);
        free(env);
        if (grown != NULL)
            cfg->kafka_props = grown;
        return;
    }
    cfg->kafka_props = grown;
    for (size_t i = 0; i < plen; i++) {
        char c = env_name[6 + i];
        prop[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
    }
    prop[plen] = '\0';
    char *val = from_file ? read_secret_file(value, env, errs) : strdup(value);
    if (val == NULL) {
        free(prop);
        free(env);
        return;
    }
    struct kafka_property *p = &cfg->kafka_props[cfg->kafka_prop_count++];
    p->env_name = env;
    p->name = prop;
    p->value = val;
    p->secret = from_file || is_secret_property(prop);
}

/* Every KAFKA_* variable that is not one of cdc-writer's own. */
static void collect_kafka_properties(struct config *cfg, char *const *envp,
                                     struct config_errors *errs)
{
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || strncmp(*e, "KAFKA_", 6) != 0)
            continue;
        size_t len = (size_t)(eq - *e);
        if (len <= 6 || is_own_kafka_variable(*e, len))
            continue;
        bool from_file = len > 11 && strncmp(*e + len - 5, "_FILE", 5) == 0;
        add_kafka_property(cfg, *e, len, eq + 1, from_file, errs);
    }
}

bool config_load(struct config *cfg, char *const *envp, struct config_errors *errs)
{
    memset(cfg, 0, sizeof *cfg);
    size_t errors_before = errs->count;
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        const struct var_spec *spec = &specs[i];
        size_t before = errs->count;
        char *value = raw_value(envp, spec, errs);
        if (value == NULL) {
            if (spec->required && errs->count == before)
                config_errors_add(errs, "%s: required, not set (%s; or set %s_FILE to a file "
                                        "holding it)",
                                  spec->name, spec->help, spec->name);
            if (spec->default_value != NULL && errs->count != before) {
                /* Keep a usable value so later checks do not cascade. */
                char *fallback = strdup(spec->default_value);
                if (fallback != NULL)
                    store_value(cfg, spec, fallback, errs);
            }
            continue;
        }
        if (!store_value(cfg, spec, value, errs) && spec->default_value != NULL) {
            char *fallback = strdup(spec->default_value);
            if (fallback != NULL)
                store_value(cfg, spec, fallback, errs);
        }
    }
    collect_kafka_properties(cfg, envp, errs);

    if (cfg->max_batch_bytes > cfg->max_buffer_bytes && cfg->max_buffer_bytes > 0)
        config_errors_add(errs,
                          "MAX_BATCH_BYTES=%lld is larger than MAX_BUFFER_BYTES=%lld: expected "
                          "MAX_BATCH_BYTES <= MAX_BUFFER_BYTES",
                          (long long)cfg->max_batch_bytes, (long long)cfg->max_buffer_bytes);
    if (cfg->minio_ca_bundle != NULL && !cfg->minio_use_ssl)
        config_errors_add(errs, "MINIO_CA_BUNDLE is set but MINIO_USE_SSL is false: expected "
                                "MINIO_USE_SSL=true with a CA bundle");
    return errs->count == errors_before;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        switch (specs[i].kind) {
        case KIND_STRING:
        case KIND_OPTIONAL:
        case KIND_REGEX:
        case KIND_BUCKET:
        case KIND_ENDPOINT:
        case KIND_HTTP_URL:
        case KIND_PATH: {
            char **field = (char **)((char *)cfg + specs[i].offset);
            if (specs[i].secret)
                secret_free(*field);
            else
                free(*field);
            *field = NULL;
            break;
        }
        default:
            break;
        }
    }
    for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
        free(cfg->kafka_props[i].env_name);
        free(cfg->kafka_props[i].name);
        if (cfg->kafka_props[i].secret)
            secret_free(cfg->kafka_props[i].value);
        else
            free(cfg->kafka_props[i].value);
    }
    free(cfg->kafka_props);
    cfg->kafka_props = NULL;
    cfg->kafka_prop_count = 0;
}

static void describe_one(const struct config *cfg, const struct var_spec *spec, FILE *out)
{
    const void *field = (const char *)cfg + spec->offset;
    fprintf(out, "%s=", spec->name);
    switch (spec->kind) {
    case KIND_STRING:
    case KIND_OPTIONAL:
    case KIND_REGEX:
    case KIND_BUCKET:
    case KIND_ENDPOINT:
    case KIND_HTTP_URL:
    case KIND_PATH: {
        const char *s = *(char *const *)field;
        fputs(s == NULL ? "(unset)" : spec->secret ? "<redacted>" : s, out);
        break;
    }
    case KIND_BOOL:
        fputs(*(const bool *)field ? "true" : "false", out);
        break;
    case KIND_INT:
        fprintf(out, "%d", *(const int *)field);
        break;
    case KIND_SECONDS:
        fprintf(out, "%.3f", *(const int *)field / 1000.0);
        break;
    case KIND_BYTES:
    case KIND_COUNT:
        fprintf(out, "%lld", (long long)*(const int64_t *)field);
        break;
    case KIND_LOG_LEVEL:
        fputs(log_level_name(*(const enum log_level *)field), out);
        break;
    case KIND_LOG_FORMAT:
        fputs(*(const enum log_format *)field == LOG_FORMAT_JSON ? "json" : "text", out);
        break;
    case KIND_CODEC:
    case KIND_SIGNING:
    case KIND_CLOCK:
        fputs(choices_of(spec->kind)[*(const int *)field], out);
        break;
    case KIND_METADATA: {
        unsigned groups = *(const unsigned *)field;
        const char *sep = "";
        for (size_t i = 0; i < METADATA_GROUPS; i++) {
            if (groups & metadata_groups[i].bit) {
                fprintf(out, "%s%s", sep, metadata_groups[i].name);
                sep = ",";
            }
        }
        if (groups == 0)
            fputs("none", out);
        break;
    }
    }
    fputc('\n', out);
}

void config_describe(const struct config *cfg, FILE *out)
{
    for (size_t i = 0; i < SPEC_COUNT; i++)
        describe_one(cfg, &specs[i], out);
    for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
        const struct kafka_property *p = &cfg->kafka_props[i];
        fprintf(out, "%s (librdkafka %s)=%s\n", p->env_name, p->name,
                p->secret ? "<redacted>" : p->value);
    }
}

void config_print_help(FILE *out)
{
    fputs("Environment variables (secrets also accept NAME_FILE, a file holding the value):\n",
          out);
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        const struct var_spec *s = &specs[i];
        fprintf(out, "  %-26s default: %-30s %s%s\n", s->name,
                s->default_value != NULL ? s->default_value : s->required ? "(required)" : "(unset)",
                s->help, s->secret ? " [secret]" : "");
    }
    fputs("  KAFKA_<PROPERTY>           any librdkafka property, upper-cased with dots as\n"
          "                             underscores: KAFKA_SECURITY_PROTOCOL=SASL_SSL sets\n"
          "                             security.protocol; KAFKA_<PROPERTY>_FILE reads the value\n"
          "                             from a file\n",
          out);
}
