/* decode_tool -- runs Kafka message values through the Debezium decoder and
 * the column buffers into Parquet files, for tests and benchmarks.
 *
 *   decode_tool [--ndjson] [--topic T] [--metadata GROUPS] OUT_PREFIX INPUT...
 *
 * Each INPUT file is one message value (raw bytes); with --ndjson each line
 * of each INPUT is one value, and an empty line is a tombstone. Messages get
 * offsets 0, 1, 2..., no key, no headers and no timestamp. GROUPS are the
 * optional metadata columns as CDC_METADATA names them (default source,key).
 * Prints one JSON line per message:
 *   {"offset":N,"result":"row"|"tombstone"|"error","error":"..."}
 * A schema change writes the current batch to OUT_PREFIX-<k>.parquet first
 * ({"flush":"OUT_PREFIX-<k>.parquet","why":"..."}); the rest is written at
 * the end. _processed_at is fixed at 1700000000000000 (µs) for repeatability.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "debezium.h"
#include "row_batch.h"

static bool file_sink(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len;
}

static int files_written;

/* Writes the batch and returns its successor, as the pipeline does. */
static struct row_batch *flush(struct row_batch *b, const char *prefix, const char *why)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s-%d.parquet", prefix, files_written++);
    FILE *f = fopen(path, "wb");
    struct pq_options opts;
    pq_options_default(&opts);
    if (f == NULL || !row_batch_write(b, &opts, file_sink, f, err, sizeof err)) {
        fprintf(stderr, "decode_tool: cannot write %s: %s\n", path, f ? err : "open failed");
        exit(1);
    }
    fclose(f);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "flush", path);
    cJSON_AddStringToObject(o, "why", why);
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    struct row_batch *next = row_batch_successor(b);
    row_batch_free(b);
    return next;
}

static void report(long long offset, const char *result, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddStringToObject(o, "result", result);
    if (error != NULL)
        cJSON_AddStringToObject(o, "error", error);
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

struct state {
    struct dbz_decoder *dec;
    struct dbz_row row;
    struct row_batch *batch;
    const char *prefix;
    long long offset;
    bool quiet;
};

static void one_message(struct state *st, const char *value, size_t len)
{
    char err[512], why[512];
    enum dbz_result r = dbz_decode(st->dec, value, len, &st->row, err, sizeof err);
    long long offset = st->offset++;
    if (r == DBZ_ERROR) {
        report(offset, "error", err);
        return;
    }
    if (r == DBZ_TOMBSTONE) {
        if (!st->quiet)
            report(offset, "tombstone", NULL);
        return;
    }
    struct kafka_record rec = {.offset = offset, .timestamp_ms = -1};
    if (row_batch_add(st->batch, &st->row, &rec, 1700000000000000LL, why, sizeof why) ==
        BATCH_SCHEMA_CHANGED) {
        st->batch = flush(st->batch, st->prefix, why);
        if (row_batch_add(st->batch, &st->row, &rec, 1700000000000000LL, why, sizeof why) !=
            BATCH_ADDED) {
            fprintf(stderr, "decode_tool: a row does not fit an empty batch\n");
            exit(1);
        }
    }
    if (!st->quiet)
        report(offset, "row", NULL);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    *len = n;
    return data;
}

int main(int argc, char **argv)
{
    bool ndjson = false;
    const char *topic = "cdc.test.public.t";
    unsigned groups = CDC_META_SOURCE | CDC_META_KEY;
    struct state st = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--ndjson") == 0)
            ndjson = true;
        else if (strcmp(argv[i], "--quiet") == 0)
            st.quiet = true;
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            topic = argv[++i];
        else if (strcmp(argv[i], "--metadata") == 0 && i + 1 < argc) {
            const char *g = argv[++i];
            groups = (strstr(g, "source") ? CDC_META_SOURCE : 0) | (strstr(g, "key") ? CDC_META_KEY : 0) |
                     (strstr(g, "headers") ? CDC_META_HEADERS : 0);
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: decode_tool [--ndjson] [--quiet] [--topic T] [--metadata GROUPS] "
                        "OUT_PREFIX INPUT...\n");
        return 2;
    }
    st.prefix = argv[i++];
    st.dec = dbz_decoder_new();
    st.batch = row_batch_new(topic, 0, groups);
    for (; i < argc; i++) {
        size_t len;
        char *data = slurp(argv[i], &len);
        if (data == NULL) {
            fprintf(stderr, "decode_tool: cannot read %s\n", argv[i]);
            return 2;
        }
        if (!ndjson) {
            one_message(&st, data, len);
        } else {
            size_t start = 0;
            for (size_t k = 0; k <= len; k++) {
                if (k == len || data[k] == '\n') {
                    if (k == len && k == start)
                        break;
                    if (k == start)
                        one_message(&st, NULL, 0);
                    else
                        one_message(&st, data + start, k - start);
                    start = k + 1;
                }
            }
        }
        free(data);
    }
    if (row_batch_rows(st.batch) > 0 || files_written == 0)
        st.batch = flush(st.batch, st.prefix, "end");
    row_batch_free(st.batch);
    dbz_row_free(&st.row);
    dbz_decoder_free(st.dec);
    return 0;
}
