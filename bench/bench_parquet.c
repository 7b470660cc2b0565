/* bench_parquet -- encodes a realistic CDC table with cdc-writer's Parquet
 * writer, single-threaded, and prints figures as one JSON object.
 *
 *   bench_parquet OUT.parquet [ROWS] [snappy|zstd|gzip|none]
 *
 * The table (generated before timing starts, deterministic): a dozen columns
 * of ints, decimals, timestamps, short and long strings, ~10% nulls in the
 * optional ones, plus the CDC metadata columns. Run by bench/parquet_bench.mjs,
 * which compares it with DuckDB on the same table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "parquet.h"

enum { NCOLS = 14 };

static const struct pq_column_spec columns[NCOLS] = {
    {.name = "id", .type = PQ_INT64},
    {.name = "customer_id", .type = PQ_INT32, .optional = true},
    {.name = "status", .type = PQ_STRING, .optional = true},
    {.name = "amount", .type = PQ_DECIMAL, .precision = 12, .scale = 2, .optional = true},
    {.name = "quantity", .type = PQ_INT32, .optional = true},
    {.name = "unit_price", .type = PQ_DOUBLE, .optional = true},
    {.name = "email", .type = PQ_STRING, .optional = true},
    {.name = "note", .type = PQ_STRING, .optional = true},
    {.name = "created_at", .type = PQ_TIMESTAMP_MICROS, .optional = true, .adjusted_to_utc = false},
    {.name = "updated_at", .type = PQ_TIMESTAMP_MICROS, .optional = true, .adjusted_to_utc = false},
    {.name = "_cdc_op", .type = PQ_STRING},
    {.name = "_cdc_ts", .type = PQ_TIMESTAMP_MILLIS, .adjusted_to_utc = true},
    {.name = "_kafka_partition", .type = PQ_INT32},
    {.name = "_kafka_offset", .type = PQ_INT64},
};

struct table {
    size_t rows;
    int64_t *id, *amount, *created, *updated, *cdc_ts, *offset;
    int32_t *customer, *quantity, *partition;
    double *price;
    char **status, **email, **note, **op;
    unsigned char *nulls; /* bit k: column k is null in this row */
};

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *const statuses[] = {"pending", "paid", "shipped", "delivered", "cancelled",
                                       "refunded"};
static const char *const ops[] = {"c", "u", "u", "u", "d", "r"};
static const char *const words[] = {"quick", "brown", "fox", "jumps", "over", "lazy", "dog",
                                    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur",
                                    "adipiscing", "elit", "sed", "do", "eiusmod", "tempor"};

static char *make_note(void)
{
    char buf[512];
    size_t len = 0;
    size_t target = 80 + rnd() % 240;
    while (len < target) {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s ", w);
        if (len >= sizeof buf - 32)
            break;
    }
    buf[len - 1] = '\0';
    return strdup(buf);
}

static void generate(struct table *t, size_t rows)
{
    t->rows = rows;
    t->id = malloc(rows * 8);
    t->amount = malloc(rows * 8);
    t->created = malloc(rows * 8);
    t->updated = malloc(rows * 8);
    t->cdc_ts = malloc(rows * 8);
    t->offset = malloc(rows * 8);
    t->customer = malloc(rows * 4);
    t->quantity = malloc(rows * 4);
    t->partition = malloc(rows * 4);
    t->price = malloc(rows * 8);
    t->status = malloc(rows * sizeof(char *));
    t->email = malloc(rows * sizeof(char *));
    t->note = malloc(rows * sizeof(char *));
    t->op = malloc(rows * sizeof(char *));
    t->nulls = malloc(rows * 2);
    int64_t base = 1735689600000000LL; /* 2025-01-01 in microseconds */
    for (size_t i = 0; i < rows; i++) {
        t->id[i] = (int64_t)i + 1;
        t->customer[i] = (int32_t)(rnd() % 50000);
        t->status[i] = (char *)statuses[rnd() % 6];
        t->amount[i] = (int64_t)(rnd() % 10000000) - 100000;
        t->quantity[i] = (int32_t)(1 + rnd() % 20);
        t->price[i] = (double)(rnd() % 100000) / 100.0;
        char email[64];
        snprintf(email, sizeof email, "user%llu@example%llu.com",
                 (unsigned long long)(rnd() % 1000000), (unsigned long long)(rnd() % 100));
        t->email[i] = strdup(email);
        t->note[i] = make_note();
        t->created[i] = base + (int64_t)(i * 1000003) + (int64_t)(rnd() % 1000);
        t->updated[i] = t->created[i] + (int64_t)(rnd() % 86400000000LL);
        t->op[i] = (char *)ops[rnd() % 6];
        t->cdc_ts[i] = t->updated[i] / 1000;
        t->partition[i] = (int32_t)(i % 4);
        t->offset[i] = (int64_t)(i / 4);
        unsigned n = 0;
        for (int c = 1; c <= 9; c++)
            if (rnd() % 10 == 0)
                n |= 1u << c;
        t->nulls[2 * i] = (unsigned char)n;
        t->nulls[2 * i + 1] = (unsigned char)(n >> 8);
    }
}

static bool file_sink(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#define APPEND(call)                                                                           \
    do {                                                                                       \
        if (!(call)) {                                                                         \
            fprintf(stderr, "bench_parquet: %s\n", pq_writer_error(w));                        \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parquet OUT.parquet [ROWS] [CODEC]\n");
        return 2;
    }
    size_t rows = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
    const char *codec = argc > 3 ? argv[3] : "snappy";
    struct table t;
    generate(&t, rows);
    long rss_before = max_rss_kib();

    struct pq_options opts;
    pq_options_default(&opts);
    opts.codec = strcmp(codec, "zstd") == 0   ? PQ_CODEC_ZSTD
                 : strcmp(codec, "gzip") == 0 ? PQ_CODEC_GZIP
                 : strcmp(codec, "none") == 0 ? PQ_CODEC_UNCOMPRESSED
                                              : PQ_CODEC_SNAPPY;
    FILE *out = fopen(argv[1], "wb");
    if (out == NULL) {
        perror(argv[1]);
        return 2;
    }
    const char *why;
    double start = now();
    struct pq_writer *w = pq_writer_new(columns, NCOLS, &opts, file_sink, out, &why);
    size_t max_buffered = 0;
    for (size_t i = 0; i < rows; i++) {
        unsigned n = t.nulls[2 * i] | (unsigned)t.nulls[2 * i + 1] << 8;
#define NUL(c) (n & (1u << (c)))
        APPEND(pq_append_i64(w, 0, t.id[i]));
        APPEND(NUL(1) ? pq_append_null(w, 1) : pq_append_i32(w, 1, t.customer[i]));
        APPEND(NUL(2) ? pq_append_null(w, 2)
                      : pq_append_bytes(w, 2, t.status[i], strlen(t.status[i])));
        APPEND(NUL(3) ? pq_append_null(w, 3) : pq_append_i64(w, 3, t.amount[i]));
        APPEND(NUL(4) ? pq_append_null(w, 4) : pq_append_i32(w, 4, t.quantity[i]));
        APPEND(NUL(5) ? pq_append_null(w, 5) : pq_append_double(w, 5, t.price[i]));
        APPEND(NUL(6) ? pq_append_null(w, 6) : pq_append_bytes(w, 6, t.email[i], strlen(t.email[i])));
        APPEND(NUL(7) ? pq_append_null(w, 7) : pq_append_bytes(w, 7, t.note[i], strlen(t.note[i])));
        APPEND(NUL(8) ? pq_append_null(w, 8) : pq_append_i64(w, 8, t.created[i]));
        APPEND(NUL(9) ? pq_append_null(w, 9) : pq_append_i64(w, 9, t.updated[i]));
        APPEND(pq_append_bytes(w, 10, t.op[i], 1));
        APPEND(pq_append_i64(w, 11, t.cdc_ts[i]));
        APPEND(pq_append_i32(w, 12, t.partition[i]));
        APPEND(pq_append_i64(w, 13, t.offset[i]));
        size_t b = pq_writer_buffered_bytes(w);
        max_buffered = b > max_buffered ? b : max_buffered;
        APPEND(pq_end_row(w));
    }
    APPEND(pq_writer_close(w));
    fclose(out);
    double secs = now() - start;
    long rss_after = max_rss_kib();
    printf("{\"rows\":%zu,\"codec\":\"%s\",\"seconds\":%.4f,\"rows_per_second\":%.0f,"
           "\"file_bytes\":%llu,\"row_group_raw_bytes\":%zu,\"peak_rss_growth_bytes\":%ld}\n",
           rows, codec, secs, (double)rows / secs,
           (unsigned long long)pq_writer_bytes_written(w), max_buffered,
           (rss_after - rss_before) * 1024L);
    pq_writer_free(w);
    return 0;
}
