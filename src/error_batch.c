/* error_batch.c -- see error_batch.h. */
#include "error_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"
#include "xalloc.h"

struct entry {
    int64_t offset, timestamp_ms, processed_at_us;
    size_t key_off, key_len, value_off, value_len, error_off, error_len;
    bool has_key, has_value;
};

struct error_batch {
    char *topic;
    int32_t partition;
    struct entry *entries;
    size_t n, cap;
    struct buf bytes;
};

struct error_batch *error_batch_new(const char *topic, int32_t partition)
{
    struct error_batch *b = xcalloc(1, sizeof *b);
    b->topic = xstrdup(topic);
    b->partition = partition;
    buf_reserve(&b->bytes, 64);
    return b;
}

void error_batch_free(struct error_batch *b)
{
    if (b == NULL)
        return;
    free(b->topic);
    free(b->entries);
    buf_free(&b->bytes);
    free(b);
}

void error_batch_add(struct error_batch *b, int64_t offset, int64_t timestamp_ms, const void *key,
                     size_t key_len, const void *value, size_t value_len, const char *error,
                     int64_t processed_at_us)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->entries = xrealloc(b->entries, b->cap * sizeof *b->entries);
    }
    struct entry *e = &b->entries[b->n++];
    e->offset = offset;
    e->timestamp_ms = timestamp_ms;
    e->processed_at_us = processed_at_us;
    e->has_key = key != NULL;
    e->key_off = b->bytes.len;
    e->key_len = key_len;
    if (key)
        buf_append(&b->bytes, key, key_len);
    e->has_value = value != NULL;
    e->value_off = b->bytes.len;
    e->value_len = value_len;
    if (value)
        buf_append(&b->bytes, value, value_len);
    /* The error text is shown as a STRING: keep it valid UTF-8. */
    e->error_off = b->bytes.len;
    size_t len = strlen(error);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)error[i];
        buf_push(&b->bytes, c < 0x80 ? c : '?');
    }
    e->error_len = len;
}

size_t error_batch_rows(const struct error_batch *b)
{
    return b->n;
}

size_t error_batch_memory(const struct error_batch *b)
{
    return b->bytes.cap + b->cap * sizeof(struct entry);
}

int64_t error_batch_first_offset(const struct error_batch *b)
{
    return b->n ? b->entries[0].offset : -1;
}

int64_t error_batch_first_timestamp(const struct error_batch *b)
{
    return b->n ? b->entries[0].timestamp_ms : 0;
}

void error_batch_clear(struct error_batch *b)
{
    b->n = 0;
    buf_reset(&b->bytes);
}

bool error_batch_write(const struct error_batch *b, const struct pq_options *opts, pq_sink_fn sink,
                       void *ctx, char *err, size_t errlen)
{
    static const struct pq_column_spec cols[] = {
        {.name = "_kafka_topic", .type = PQ_STRING},
        {.name = "_kafka_partition", .type = PQ_INT32},
        {.name = "_kafka_offset", .type = PQ_INT64},
        {.name = "_kafka_timestamp", .type = PQ_TIMESTAMP_MILLIS, .optional = true, .adjusted_to_utc = true},
        {.name = "_kafka_key", .type = PQ_BINARY, .optional = true},
        {.name = "_kafka_value", .type = PQ_BINARY, .optional = true},
        {.name = "_error", .type = PQ_STRING},
        {.name = "_processed_at", .type = PQ_TIMESTAMP_MICROS, .adjusted_to_utc = true},
    };
    const char *why = NULL;
    struct pq_writer *w = pq_writer_new(cols, sizeof cols / sizeof cols[0], opts, sink, ctx, &why);
    if (w == NULL) {
        snprintf(err, errlen, "%s", why);
        return false;
    }
    bool ok = true;
    const uint8_t *d = b->bytes.data;
    for (size_t i = 0; ok && i < b->n; i++) {
        const struct entry *e = &b->entries[i];
        ok = pq_append_bytes(w, 0, b->topic, strlen(b->topic)) && pq_append_i32(w, 1, b->partition) &&
             pq_append_i64(w, 2, e->offset) &&
             (e->timestamp_ms >= 0 ? pq_append_i64(w, 3, e->timestamp_ms) : pq_append_null(w, 3)) &&
             (e->has_key ? pq_append_bytes(w, 4, d + e->key_off, e->key_len) : pq_append_null(w, 4)) &&
             (e->has_value ? pq_append_bytes(w, 5, d + e->value_off, e->value_len)
                           : pq_append_null(w, 5)) &&
             pq_append_bytes(w, 6, d + e->error_off, e->error_len) &&
             pq_append_i64(w, 7, e->processed_at_us) && pq_end_row(w);
    }
    ok = ok && pq_writer_close(w);
    if (!ok)
        snprintf(err, errlen, "%s", pq_writer_error(w));
    pq_writer_free(w);
    return ok;
}
