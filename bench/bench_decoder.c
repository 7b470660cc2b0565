/* bench_decoder -- Debezium decoding into column buffers, single-threaded.
 *
 *   bench_decoder gen FILE [N] [--schemaless]
 *                                writes N (default 1,000,000) envelopes of about
 *                                1 KB (with schema, a realistic mix of types) as NDJSON;
 *                                with --schemaless, the payloads alone (a JSON
 *                                converter with schemas.enable=false)
 *   bench_decoder run FILE       decodes every line and adds it to column buffers
 *                                (cleared every 100,000 rows, as flushes would);
 *                                prints one JSON object of figures
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
    /* "double" is not a Kafka Connect type; the generator writes float64. */
    char *fl = strdup(fields);
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *path)
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
    struct dbz_decoder *d = dbz_decoder_new();
    struct row_batch *b = row_batch_new("cdc.shop.public.orders", 0);
    struct dbz_row row = {0};
    char err[512], why[256];
    long rows = 0, errors = 0;
    double start = now();
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (dbz_decode(d, data + pos, end - pos, &row, err, sizeof err) == DBZ_ROW) {
            row_batch_add(b, &row, rows, 0, why, sizeof why);
            if (row_batch_rows(b) == 100000)
                row_batch_clear(b);
            rows++;
        } else {
            errors++;
            if (errors == 1)
                fprintf(stderr, "bench_decoder: %s\n", err);
        }
        pos = end + 1;
    }
    double secs = now() - start;
    printf("{\"messages\":%ld,\"errors\":%ld,\"bytes\":%zu,\"seconds\":%.4f,\"messages_per_second\":%.0f,"
           "\"mb_per_second\":%.1f}\n",
           rows + errors, errors, len, secs, (double)(rows + errors) / secs, (double)len / secs / 1e6);
    dbz_row_free(&row);
    row_batch_free(b);
    dbz_decoder_free(d);
    free(data);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], argc > 3 ? atol(argv[3]) : 1000000,
                   argc > 4 && strcmp(argv[4], "--schemaless") == 0);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2]);
    fprintf(stderr, "usage: bench_decoder gen FILE [N] [--schemaless] | run FILE\n");
    return 2;
}
