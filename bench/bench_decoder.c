/* bench_decoder -- Debezium decoding into column buffers, and on to Parquet,
 * single-threaded.
 *
 *   bench_decoder gen FILE [N] [--schemaless]
 *                                writes N (default 1,000,000) envelopes of about
 *                                1 KB (with schema, a realistic mix of types) as NDJSON;
 *                                with --schemaless, the payloads alone (a JSON
 *                                converter with schemas.enable=false)
 *   bench_decoder repeat SRC FILE N
 *                                writes N envelopes as NDJSON: the lines of SRC (e.g.
 *                                recorded from the connector) over and over, the k-th
 *                                with its "after":{"id":... set to k (1, 2, 3...)
 *   bench_decoder run FILE [--parquet DIR]
 *                                decodes every line and adds it to column buffers
 *                                (cleared every 100,000 rows, as flushes would); with
 *                                --parquet, writes each 100,000 rows (and the rest at
 *                                the end) as DIR/part-<k>.parquet first, Snappy, the
 *                                writer's defaults, as the daemon's flushes do.
 *                                The file is read into memory before the clock starts
 *                                (the daemon gets its messages in memory from
 *                                librdkafka); read_seconds is what reading it once
 *                                more, in 1 MiB pieces, takes. Prints one JSON object
 *                                of figures.
 * Run by bench/decoder_bench.mjs, which compares it with DuckDB's read_json.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "debezium.h"
#include "row_batch.h"

static const char *const schema =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"name\":\"shop.public.orders.Value\",\"field\":\"before\"},"
    "{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"name\":\"shop.public.orders.Value\",\"field\":\"after\"},"
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"}],"
    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}],"
    "\"optional\":false,\"name\":\"shop.public.orders.Envelope\"}";

static const char *const fields =
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int32\",\"optional\":true,\"field\":\"customer_id\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"field\":\"status\"},"
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"12\"},\"field\":\"amount\"},"
    "{\"type\":\"double\",\"optional\":true,\"field\":\"price\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"email\"},"
    "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTimestamp\",\"field\":\"created_at\"},"
    "{\"type\":\"boolean\",\"optional\":true,\"field\":\"gift\"}";

static uint64_t state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void b64_2(unsigned v, char out[5])
{
    static const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char b[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    out[0] = a[b[0] >> 2];
    out[1] = a[((b[0] & 3) << 4) | (b[1] >> 4)];
    out[2] = a[((b[1] & 15) << 2) | (b[2] >> 6)];
    out[3] = a[b[2] & 63];
    out[4] = '\0';
}

static int gen(const char *path, long n, bool schemaless)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 2;
    /* "double" is not a Kafka Connect type; the generator writes float64,
     * one byte longer. */
    size_t fields_len = strlen(fields);
    char *fl = malloc(fields_len + 2);
    memcpy(fl, fields, fields_len + 1);
    char *p = strstr(fl, "\"double\"");
    memcpy(p, "\"float64\"", 8);
    memmove(p + 9, p + 8, strlen(p + 8) + 1);
    p[8] = '"';
    char *sch = malloc(strlen(schema) + 2 * strlen(fl) + 16);
    sprintf(sch, schema, fl, fl);
    static const char *const statuses[] = {"pending", "paid", "shipped", "cancelled"};
    static const char *const ops[] = {"c", "u", "u", "r"};
    for (long i = 0; i < n; i++) {
        char amount[5];
        b64_2((unsigned)(rnd() % 8000000), amount);
        if (schemaless)
            fputs("{", f);
        else
            fprintf(f, "{\"schema\":%s,\"payload\":{", sch);
        fprintf(f,
                "\"before\":null,\"after\":{\"id\":%ld,\"customer_id\":%u,"
                "\"status\":\"%s\",\"amount\":\"%s\",\"price\":%u.%02u,"
                "\"email\":\"user%u@example.com\","
                "\"created_at\":%lld,\"gift\":%s},"
                "\"source\":{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"ts_ms\":%lld,"
                "\"table\":\"orders\",\"lsn\":%ld},\"op\":\"%s\",\"ts_ms\":%lld}%s\n",
                i + 1, (unsigned)(rnd() % 100000), statuses[rnd() % 4], amount,
                (unsigned)(rnd() % 1000), (unsigned)(rnd() % 100), (unsigned)(rnd() % 1000000),
                1735689600000000LL + i * 1000, rnd() % 2 ? "true" : "false", 1735689600000LL + i, 24023128L + i, ops[rnd() % 4],
                1735689600000LL + i + 3, schemaless ? "" : "}");
    }
    free(sch);
    free(fl);
    return fclose(f) == 0 ? 0 : 1;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lines of path, their ids renumbered, n of them in all. */
static int repeat(const char *src, const char *path, long n)
{
    FILE *in = fopen(src, "rb");
    if (in == NULL)
        return 2;
    char **lines = NULL;
    size_t count = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    static const char key[] = "\"after\":{\"id\":";
    while ((got = getline(&line, &cap, in)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = '\0';
        if (got == 0)
            continue;
        if (strstr(line, key) == NULL) {
            fprintf(stderr, "bench_decoder: line %zu of %s has no %s\n", count + 1, src, key);
            return 2;
        }
        lines = realloc(lines, (count + 1) * sizeof *lines);
        lines[count++] = strdup(line);
    }
    free(line);
    fclose(in);
    if (count == 0)
        return 2;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 2;
    for (long i = 0; i < n; i++) {
        const char *l = lines[(size_t)i % count];
        const char *id = strstr(l, key) + sizeof key - 1;
        const char *rest = id;
        while (*rest == '-' || (*rest >= '0' && *rest <= '9'))
            rest++;
        fwrite(l, 1, (size_t)(id - l), f);
        fprintf(f, "%ld%s\n", i + 1, rest);
    }
    for (size_t i = 0; i < count; i++)
        free(lines[i]);
    free(lines);
    return fclose(f) == 0 ? 0 : 1;
}

static bool file_sink(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len;
}

struct out {
    const char *dir; /* NULL: column buffers only */
    int files;
    long long bytes;
};

/* Writes b to the next file of out; false (and a line on stderr) on failure. */
static bool write_parquet(const struct row_batch *b, struct out *out)
{
    char path[4096], err[512] = "";
    snprintf(path, sizeof path, "%s/part-%d.parquet", out->dir, out->files);
    FILE *f = fopen(path, "wb");
    struct pq_options opts;
    pq_options_default(&opts);
    bool ok = f != NULL && row_batch_write(b, &opts, file_sink, f, err, sizeof err);
    if (ok)
        ok = fflush(f) == 0;
    if (ok) {
        out->files++;
        out->bytes += ftell(f);
    }
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "bench_decoder: cannot write %s: %s\n", path,
                f == NULL ? "cannot open it" : err[0] ? err : "write failed");
    return ok;
}

/* Ends the batch (written out first with --parquet) and returns its successor. */
static struct row_batch *cut(struct row_batch *b, struct out *out, bool *failed)
{
    if (out->dir == NULL) {
        row_batch_clear(b);
        return b;
    }
    if (!write_parquet(b, out))
        *failed = true;
    struct row_batch *next = row_batch_successor(b);
    row_batch_free(b);
    return next;
}

static int run(const char *path, const char *dir)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 2;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(len);
    if (fread(data, 1, len, f) != len)
        return 2;
    fclose(f);
    /* What reading the file costs a reader that keeps one 1 MiB buffer. */
    double read_start = clock_seconds(CLOCK_MONOTONIC);
    f = fopen(path, "rb");
    if (f == NULL)
        return 2;
    static char piece[1 << 20];
    while (fread(piece, 1, sizeof piece, f) == sizeof piece)
        ;
    fclose(f);
    double read_secs = clock_seconds(CLOCK_MONOTONIC) - read_start;

    struct out out = {.dir = dir};
    struct dbz_decoder *d = dbz_decoder_new();
    /* The daemon's default columns, with a key as Debezium's JSON converter
     * writes one without schema. */
    struct row_batch *b = row_batch_new("cdc.shop.public.orders", 0, CDC_META_SOURCE | CDC_META_KEY);
    static const char key[] = "{\"id\":1}";
    struct dbz_row row = {0};
    char err[512], why[256];
    long rows = 0, errors = 0, schema_cuts = 0;
    bool failed = false;
    double start = clock_seconds(CLOCK_MONOTONIC), cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (dbz_decode(d, data + pos, end - pos, &row, err, sizeof err) == DBZ_ROW) {
            struct kafka_record rec = {.offset = rows, .timestamp_ms = 1735689600000LL,
                                       .key = key, .key_len = sizeof key - 1};
            if (row_batch_add(b, &row, &rec, 0, why, sizeof why) == BATCH_SCHEMA_CHANGED) {
                schema_cuts++;
                b = cut(b, &out, &failed);
                if (row_batch_add(b, &row, &rec, 0, why, sizeof why) != BATCH_ADDED) {
                    fprintf(stderr, "bench_decoder: a row does not fit an empty batch\n");
                    return 1;
                }
            }
            if (row_batch_rows(b) == 100000)
                b = cut(b, &out, &failed);
            rows++;
        } else {
            errors++;
            if (errors == 1)
                fprintf(stderr, "bench_decoder: %s\n", err);
        }
        pos = end + 1;
    }
    if (dir != NULL && row_batch_rows(b) > 0)
        b = cut(b, &out, &failed);
    double secs = clock_seconds(CLOCK_MONOTONIC) - start;
    double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    printf("{\"messages\":%ld,\"rows\":%ld,\"errors\":%ld,\"schema_cuts\":%ld,\"bytes\":%zu,"
           "\"seconds\":%.4f,\"cpu_seconds\":%.4f,\"read_seconds\":%.4f,"
           "\"messages_per_second\":%.0f,\"mb_per_second\":%.1f,\"files\":%d,\"parquet_bytes\":%lld}\n",
           rows + errors, rows, errors, schema_cuts, len, secs, cpu, read_secs,
           (double)(rows + errors) / secs, (double)len / secs / 1e6, out.files, out.bytes);
    dbz_row_free(&row);
    row_batch_free(b);
    dbz_decoder_free(d);
    free(data);
    return errors || failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], argc > 3 ? atol(argv[3]) : 1000000,
                   argc > 4 && strcmp(argv[4], "--schemaless") == 0);
    if (argc == 5 && strcmp(argv[1], "repeat") == 0)
        return repeat(argv[2], argv[3], atol(argv[4]));
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2], NULL);
    if (argc == 5 && strcmp(argv[1], "run") == 0 && strcmp(argv[3], "--parquet") == 0)
        return run(argv[2], argv[4]);
    fprintf(stderr, "usage: bench_decoder gen FILE [N] [--schemaless] | repeat SRC FILE N | "
                    "run FILE [--parquet DIR]\n");
    return 2;
}
