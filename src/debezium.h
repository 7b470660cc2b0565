/* debezium.h -- decodes one Kafka message value, as Debezium writes it with
 * Kafka Connect's JSON converter, into one flat row of typed fields.
 *
 * Contract
 * - Accepted shapes: an envelope with its schema ({"schema":..., "payload":...})
 *   or without (the payload alone), for operations c, u, d, r, t and m; and a
 *   record flattened by ExtractNewRecordState (__op, __ts_ms, __deleted, ...),
 *   with or without a schema.
 * - The row image is `after` for c/u/r and `before` for d. t and m have none:
 *   their rows carry metadata only (with a schema, every field is null).
 * - Besides op and the timestamps, each row carries its source metadata
 *   (struct dbz_source). A source field of an unexpected kind is no error: it
 *   is left out, or kept in the position (see there); the source and
 *   transaction blocks are not checked against the schema.
 * - With a schema, each field's type comes from the Kafka Connect schema and
 *   Debezium's semantic names (see the README's mapping table), and each value
 *   is checked against it. Without a schema, values keep their JSON kind
 *   (DBZ_INFERRED) and the batch decides the column type (row_batch.h).
 * - A null value (no bytes) is a tombstone: DBZ_TOMBSTONE, no row.
 * - Anything else is DBZ_ERROR with a message naming what is wrong and where
 *   (a JSON path such as payload.after.price, or a byte offset). The decoder
 *   never crashes on any input and never leaves a partial row.
 * - A decoder caches parsed schemas by their exact JSON text, so the schema of
 *   a stream of messages is parsed once. It is not thread-safe.
 */
#ifndef CDCW_DEBEZIUM_H
#define CDCW_DEBEZIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "parquet.h"

/* How a field's values are stored in Parquet. */
struct field_type {
    enum pq_column_type pq;
    bool list;            /* a LIST of pq */
    int precision, scale; /* PQ_DECIMAL */
    bool utc;             /* time and timestamp types */
    bool inferred;        /* no schema: the batch chooses the type */
};

enum cell_kind {
    CELL_NULL,
    CELL_BOOL,   /* v.i is 0 or 1 */
    CELL_INT,    /* v.i */
    CELL_DOUBLE, /* v.d */
    CELL_BYTES,  /* v.off, len into the row's (or batch's) bytes: text, binary,
                    UUID, big-endian decimal */
    CELL_LIST,   /* v.off = first element in the items array, len = count */
    /* Without a schema: */
    CELL_NUMBER, /* the number's JSON text in bytes; aux = 1 when an integer */
    CELL_TEXT,   /* a JSON string, decoded, in bytes */
    CELL_JSON,   /* an object or array, its JSON text in bytes */
};

struct cell {
    uint8_t kind;
    uint8_t aux;
    uint32_t len;
    union {
        int64_t i;
        double d;
        uint64_t off;
    } v;
};

struct dbz_field {
    uint32_t name_off, name_len; /* in row->names */
    struct field_type type;
    struct cell cell;
};

/* Where the change comes from and its place in the source's order, from
 * payload.source and payload.transaction, or a flattened record's __ fields
 * (__lsn or __source_lsn, __total_order or __transaction_total_order...,
 * which stay data fields too). Each is CELL_NULL when absent or null; texts
 * are in row->meta. See the README's metadata table. */
struct dbz_source {
    struct cell lsn;      /* CELL_INT: lsn, when an integer */
    struct cell tx_id;    /* CELL_INT: txId, when an integer */
    struct cell sequence; /* CELL_BYTES: sequence, a string's content or a value's JSON text */
    struct cell snapshot; /* CELL_BYTES: snapshot, likewise ("true", "last", "false"...) */
    struct cell name;     /* CELL_BYTES: db.schema.table (collection for table), the parts present */
    struct cell position; /* CELL_BYTES: a JSON object of the other position fields present
                             (file, pos, row, gtid, scn..., and lsn or txId that are not
                             integers), each with its JSON text */
    struct cell tx_order, tx_collection_order; /* CELL_INT: transaction total_order and
                                                  data_collection_order */
};

struct dbz_row {
    char op;            /* c u d r t m */
    bool has_ts, has_source_ts;
    int64_t ts_ms, source_ts_ms;
    struct dbz_source src;
    struct buf meta;    /* the texts of src */
    struct dbz_field *fields;
    size_t nfields, fields_cap;
    struct cell *items; /* list elements */
    size_t nitems, items_cap;
    struct buf bytes;   /* cell bytes */
    struct buf names;   /* field names */
};

enum dbz_result { DBZ_ROW, DBZ_TOMBSTONE, DBZ_ERROR };

struct dbz_decoder;

struct dbz_decoder *dbz_decoder_new(void);
void dbz_decoder_free(struct dbz_decoder *d);

/* Decodes value[0..len) (value == NULL: a tombstone) into row, which is
 * reset first. On DBZ_ERROR, err holds one line (what and where). */
enum dbz_result dbz_decode(struct dbz_decoder *d, const void *value, size_t len,
                           struct dbz_row *row, char *err, size_t errlen);

void dbz_row_free(struct dbz_row *row);

static inline const char *dbz_field_name(const struct dbz_row *row, const struct dbz_field *f)
{
    return (const char *)row->names.data + f->name_off;
}

/* True when both types store values the same way. */
bool field_type_equal(const struct field_type *a, const struct field_type *b);

/* "DECIMAL(10,2)", "TIMESTAMP_MICROS(UTC)", "LIST<INT32>"... for messages. */
void field_type_describe(const struct field_type *t, char *out, size_t size);

#endif
