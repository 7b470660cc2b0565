/* fuzz_decoder -- libFuzzer target: any bytes as a Kafka message value (and
 * as its key and a header's value) go through the Debezium decoder, the
 * column buffers and the Parquet writer.
 * Nothing may crash, leak or trip a sanitizer; every input either becomes a
 * row, a tombstone or an error with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debezium.h"
#include "row_batch.h"

struct fuzz_state {
    struct dbz_decoder *decoder;
    struct dbz_row row;
    struct row_batch *batch;
    struct buf headers;
};

static bool discard(void *ctx, const void *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return true;
}

static void write_out(struct row_batch *b)
{
    struct pq_options opts;
    pq_options_default(&opts);
    size_t written = 0;
    char err[256];
    if (!row_batch_write(b, &opts, discard, &written, err, sizeof err)) {
        fprintf(stderr, "fuzz_decoder: a decoded batch failed to write: %s\n", err);
        abort();
    }
    row_batch_clear(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_state st; /* the harness's state across inputs */
    if (st.decoder == NULL) {
        st.decoder = dbz_decoder_new();
        st.batch = row_batch_new("cdc.fuzz.public.t", 0,
                                 CDC_META_SOURCE | CDC_META_KEY | CDC_META_HEADERS);
    }
    char err[512], why[256];
    enum dbz_result r = dbz_decode(st.decoder, data, size, &st.row, err, sizeof err);
    if (r == DBZ_ERROR && err[0] == '\0') {
        fprintf(stderr, "fuzz_decoder: an error without a message\n");
        abort();
    }
    if (r == DBZ_ROW) {
        /* The input is the key and a header's value too. */
        struct kafka_header h = {.name = "h", .value = data, .len = size};
        buf_reset(&st.headers);
        kafka_headers_json(&h, 1, &st.headers);
        struct kafka_record rec = {.offset = 0, .timestamp_ms = 0, .key = data, .key_len = size,
                                   .headers = (const char *)st.headers.data,
                                   .headers_len = st.headers.len};
        if (row_batch_add(st.batch, &st.row, &rec, 0, why, sizeof why) == BATCH_SCHEMA_CHANGED) {
            write_out(st.batch);
            if (row_batch_add(st.batch, &st.row, &rec, 0, why, sizeof why) != BATCH_ADDED)
                abort();
        }
        if (row_batch_rows(st.batch) >= 8)
            write_out(st.batch);
    }
    return 0;
}
