/* row_batch.c -- see row_batch.h for the contract.
 *
 * A column holds its values densely, in row order, nulls left out, and a
 * validity bitmap: bit r (LSB first) set when row r has a value. The bitmap
 * only reaches the column's last value: the rows past its end are null, so
 * a null costs nothing but its bit, and a column added mid-batch needs
 * nothing for the rows before it. Until a value comes after a null, the
 * values are the first rows' and the bitmap is left empty: a column without
 * nulls (most of a wide table's) costs no bit at all. */
#include "row_batch.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "xalloc.h"

static const char *const meta_names[] = {
    "_cdc_op", "_cdc_ts", "_cdc_source_ts", "_processed_at", "_kafka_topic", "_kafka_partition",
    "_kafka_offset",
};
#define META_COUNT (sizeof meta_names / sizeof meta_names[0])

/* The metadata columns after meta_names, in file order; all OPTIONAL. */
enum extra {
    X_KAFKA_TIMESTAMP,
    X_LSN,
    X_TX_ID,
    X_SEQUENCE,
    X_SNAPSHOT,
    X_SOURCE,
    X_POSITION,
    X_TX_ORDER,
    X_TX_COLLECTION_ORDER,
    X_KEY,
    X_HEADERS,
    EXTRA_COUNT
};

static const struct {
    const char *name;
    unsigned group; /* 0: in every file */
    enum pq_column_type type;
} extra_meta[EXTRA_COUNT] = {
    [X_KAFKA_TIMESTAMP] = {"_kafka_timestamp", 0, PQ_TIMESTAMP_MILLIS},
    [X_LSN] = {"_cdc_lsn", CDC_META_SOURCE, PQ_INT64},
    [X_TX_ID] = {"_cdc_tx_id", CDC_META_SOURCE, PQ_INT64},
    [X_SEQUENCE] = {"_cdc_sequence", CDC_META_SOURCE, PQ_STRING},
    [X_SNAPSHOT] = {"_cdc_snapshot", CDC_META_SOURCE, PQ_STRING},
    [X_SOURCE] = {"_cdc_source", CDC_META_SOURCE, PQ_STRING},
    [X_POSITION] = {"_cdc_position", CDC_META_SOURCE, PQ_STRING},
    [X_TX_ORDER] = {"_cdc_tx_order", CDC_META_SOURCE, PQ_INT64},
    [X_TX_COLLECTION_ORDER] = {"_cdc_tx_collection_order", CDC_META_SOURCE, PQ_INT64},
    [X_KEY] = {"_kafka_key", CDC_META_KEY, PQ_STRING},
    [X_HEADERS] = {"_kafka_headers", CDC_META_HEADERS, PQ_STRING},
};

/* What a schema-less column has seen, to choose its type. */
enum seen {
    SEEN_INT = 1,
    SEEN_FRACTION = 2,
    SEEN_BOOL = 4,
    SEEN_TEXT = 8,
    SEEN_JSON = 16,
    SEEN_INEXACT_INT = 32, /* a number that a double (or INT64) cannot hold: see double_holds() */
    SEEN_BIG_INT = 64,     /* an integer outside INT64 */
};

struct column {
    char *source_name, *file_name;
    size_t source_len;
    struct field_type type;
    struct buf valid;   /* bit r set: row r has a value; rows past its end are null
                           (empty: the first ncells rows have one) */
    struct cell *cells; /* the values, in row order, without the nulls */
    size_t ncells, cap;
    struct buf bytes;
    struct cell *items;
    size_t nitems, items_cap;
    unsigned seen;
    uint64_t stamp; /* the last row that named it */
};

/* What a column of the previous batch grew to (row_batch_successor). */
struct size_hint {
    char *name;
    size_t len, cells, bytes, items, valid;
};

struct row_batch {
    struct size_hint *hints;
    size_t nhints;
    char *topic;
    int32_t partition;
    unsigned groups;
    /* The metadata columns of extra_meta in the files, and their buffers. */
    enum extra extras[EXTRA_COUNT];
    size_t nextras;
    struct column extra[EXTRA_COUNT]; /* X_KEY holds the keys' bytes: their text is
                                         made when the file is written */
    struct column *cols;
    size_t ncols, cols_cap;
    size_t rows;
    /* What row_batch_memory() counts besides the per-row metadata: the cells of
     * the values, their bytes and list items, and the bitmaps' bytes. */
    size_t value_bytes;
    struct buf op, ts, source_ts, processed_at, offsets; /* per row */
    struct buf ts_null, source_ts_null;                 /* one byte per row */
    size_t hint;
};

struct row_batch *row_batch_new(const char *topic, int32_t partition, unsigned groups)
{
    struct row_batch *b = xcalloc(1, sizeof *b);
    b->topic = xstrdup(topic);
    b->partition = partition;
    b->groups = groups;
    for (size_t i = 0; i < EXTRA_COUNT; i++) {
        if (extra_meta[i].group != 0 && !(groups & extra_meta[i].group))
            continue;
        struct column *c = &b->extra[i];
        c->source_name = xstrdup(extra_meta[i].name);
        c->source_len = strlen(c->source_name);
        c->file_name = xstrdup(c->source_name);
        c->type.pq = extra_meta[i].type;
        c->type.utc = c->type.pq == PQ_TIMESTAMP_MILLIS; /* _kafka_timestamp: an instant */
        b->extras[b->nextras++] = (enum extra)i;
    }
    return b;
}

static void reserve_cells(struct column *c, size_t cells, size_t bytes, size_t valid)
{
    if (cells > c->cap) {
        c->cap = cells;
        c->cells = xrealloc(c->cells, c->cap * sizeof *c->cells);
    }
    buf_reserve(&c->bytes, bytes);
    buf_reserve(&c->valid, valid);
}

struct row_batch *row_batch_successor(const struct row_batch *prev)
{
    struct row_batch *b = row_batch_new(prev->topic, prev->partition, prev->groups);
    size_t rows = prev->rows + prev->rows / 8; /* room to grow a little without a copy */
    for (size_t i = 0; i < b->nextras; i++) {
        const struct column *c = &prev->extra[b->extras[i]];
        reserve_cells(&b->extra[b->extras[i]], c->ncells + c->ncells / 8,
                      c->bytes.len + c->bytes.len / 8, rows / 8 + 1);
    }
    buf_reserve(&b->op, rows);
    buf_reserve(&b->ts_null, rows);
    buf_reserve(&b->source_ts_null, rows);
    buf_reserve(&b->ts, rows * 8);
    buf_reserve(&b->source_ts, rows * 8);
    buf_reserve(&b->processed_at, rows * 8);
    buf_reserve(&b->offsets, rows * 8);
    if (prev->ncols > 0) {
        b->hints = xcalloc(prev->ncols, sizeof *b->hints);
        for (size_t i = 0; i < prev->ncols; i++) {
            const struct column *c = &prev->cols[i];
            b->hints[i] = (struct size_hint){
                .name = xstrndup(c->source_name, c->source_len), .len = c->source_len,
                .cells = c->ncells + c->ncells / 8, .bytes = c->bytes.len + c->bytes.len / 8,
                .items = c->nitems + c->nitems / 8, .valid = c->valid.len + c->valid.len / 8};
        }
        b->nhints = prev->ncols;
    }
    return b;
}

static const struct size_hint *size_hint(const struct row_batch *b, const char *name, size_t len)
{
    for (size_t i = 0; i < b->nhints; i++)
        if (b->hints[i].len == len && memcmp(b->hints[i].name, name, len) == 0)
            return &b->hints[i];
    return NULL;
}

static void column_free(struct column *c)
{
    free(c->source_name);
    free(c->file_name);
    free(c->cells);
    free(c->items);
    buf_free(&c->bytes);
    buf_free(&c->valid);
}

void row_batch_clear(struct row_batch *b)
{
    for (size_t i = 0; i < b->ncols; i++)
        column_free(&b->cols[i]);
    for (size_t i = 0; i < b->nextras; i++) {
        b->extra[b->extras[i]].ncells = 0;
        buf_reset(&b->extra[b->extras[i]].bytes);
        buf_reset(&b->extra[b->extras[i]].valid);
    }
    b->ncols = 0;
    b->rows = 0;
    b->value_bytes = 0;
    b->hint = 0;
    buf_reset(&b->op);
    buf_reset(&b->ts);
    buf_reset(&b->source_ts);
    buf_reset(&b->processed_at);
    buf_reset(&b->offsets);
    buf_reset(&b->ts_null);
    buf_reset(&b->source_ts_null);
}

void row_batch_free(struct row_batch *b)
{
    if (b == NULL)
        return;
    row_batch_clear(b);
    free(b->cols);
    for (size_t i = 0; i < EXTRA_COUNT; i++)
        column_free(&b->extra[i]);
    buf_free(&b->op);
    buf_free(&b->ts);
    buf_free(&b->source_ts);
    buf_free(&b->processed_at);
    buf_free(&b->offsets);
    buf_free(&b->ts_null);
    buf_free(&b->source_ts_null);
    for (size_t i = 0; i < b->nhints; i++)
        free(b->hints[i].name);
    free(b->hints);
    free(b->topic);
    free(b);
}

size_t row_batch_rows(const struct row_batch *b)
{
    return b->rows;
}

size_t row_batch_memory(const struct row_batch *b)
{
    /* A value costs its cell and its bytes, and a column with a value after a
     * null a bit per row up to its last value: value_bytes counts both as they
     * are added. */
    size_t meta = b->op.len + b->ts.len + b->ts_null.len + b->source_ts.len + b->source_ts_null.len +
                  b->processed_at.len + b->offsets.len;
    return meta + b->value_bytes;
}

int64_t row_batch_first_offset(const struct row_batch *b)
{
    return b->rows ? ((const int64_t *)b->offsets.data)[0] : -1;
}

int64_t row_batch_last_offset(const struct row_batch *b)
{
    return b->rows ? ((const int64_t *)b->offsets.data)[b->rows - 1] : -1;
}

static struct column *find_column(struct row_batch *b, const char *name, size_t len)
{
    for (size_t probe = 0; probe < b->ncols; probe++) {
        size_t i = (b->hint + probe) % b->ncols;
        struct column *c = &b->cols[i];
        if (c->source_len == len && memcmp(c->source_name, name, len) == 0) {
            b->hint = i + 1;
            return c;
        }
    }
    return NULL;
}

static bool file_name_taken(const struct row_batch *b, const char *name)
{
    for (size_t i = 0; i < META_COUNT; i++)
        if (strcmp(meta_names[i], name) == 0)
            return true;
    for (size_t i = 0; i < b->nextras; i++)
        if (strcmp(extra_meta[b->extras[i]].name, name) == 0)
            return true;
    for (size_t i = 0; i < b->ncols; i++)
        if (strcmp(b->cols[i].file_name, name) == 0)
            return true;
    return false;
}

/* Gives column c a value in the row being added (row b->rows): its bit and
 * its cell. A null is nothing: its bit stays clear, or past the bitmap's end.
 * put_cell() below takes the common case inline. */
static void put_cell_slow(struct row_batch *b, struct column *c, struct cell cell)
{
    if (c->valid.len == 0 && c->ncells < b->rows) { /* a value after a null: the bitmap starts */
        for (size_t r = 0; r < c->ncells; r += 8) {
            size_t left = c->ncells - r;
            buf_push(&c->valid, left >= 8 ? 0xff : (uint8_t)((1u << left) - 1));
            b->value_bytes++;
        }
    }
    if (c->valid.len > 0 || c->ncells < b->rows) {
        size_t byte = b->rows / 8;
        while (c->valid.len <= byte) { /* a byte per 8 rows, the rows since its last value null */
            buf_push(&c->valid, 0);
            b->value_bytes++;
        }
        c->valid.data[byte] |= (uint8_t)(1u << (b->rows % 8));
    }
    if (c->ncells == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->cells = xrealloc(c->cells, c->cap * sizeof *c->cells);
    }
    c->cells[c->ncells++] = cell;
    b->value_bytes += sizeof cell;
}

/* A null is nothing; the common case inline: a value in a column with no
 * null so far and room for it. */
static inline void put_cell(struct row_batch *b, struct column *c, struct cell cell)
{
    if (cell.kind == CELL_NULL)
        return;
    if (c->valid.len == 0 && c->ncells == b->rows && c->ncells < c->cap) {
        c->cells[c->ncells++] = cell;
        b->value_bytes += sizeof cell;
        return;
    }
    put_cell_slow(b, c, cell);
}

/* Whether row r of column c has a value. */
static inline bool has_value(const struct column *c, size_t r)
{
    if (c->valid.len == 0)
        return r < c->ncells; /* no value after a null: the common case of wide rows */
    return r / 8 < c->valid.len && ((c->valid.data[r / 8] >> (r % 8)) & 1);
}

static struct column *add_column(struct row_batch *b, const char *name, size_t len,
                                 const struct field_type *type)
{
    if (b->ncols == b->cols_cap) {
        b->cols_cap = b->cols_cap ? b->cols_cap * 2 : 16;
        b->cols = xrealloc(b->cols, b->cols_cap * sizeof *b->cols);
    }
    struct column *c = &b->cols[b->ncols];
    memset(c, 0, sizeof *c);
    c->source_name = xstrndup(name, len);
    c->source_len = len;
    /* Never overwrite a metadata column: keep the source column renamed. */
    char *file = xstrdup(c->source_name);
    while (file_name_taken(b, file)) {
        size_t n = strlen(file);
        file = xrealloc(file, n + 6);
        memcpy(file + n, "__src", 6);
    }
    c->file_name = file;
    c->type = *type;
    const struct size_hint *h = size_hint(b, name, len);
    buf_reserve(&c->bytes, h != NULL && h->bytes > 64 ? h->bytes : 64);
    if (h != NULL && h->cells > 0) {
        c->cap = h->cells;
        c->cells = xmalloc(c->cap * sizeof *c->cells);
    }
    if (h != NULL && h->items > 0) {
        c->items_cap = h->items;
        c->items = xmalloc(c->items_cap * sizeof *c->items);
    }
    if (h != NULL)
        buf_reserve(&c->valid, h->valid);
    b->ncols++;
    return c; /* null in the earlier rows: its bitmap starts empty */
}

/* Copies a cell from the row into the column, with its bytes and items. */
static struct cell copy_cell(struct column *c, const struct dbz_row *row, struct cell in)
{
    struct cell out = in;
    switch (in.kind) {
    case CELL_BYTES:
    case CELL_NUMBER:
    case CELL_TEXT:
    case CELL_JSON:
        out.v.off = c->bytes.len;
        buf_append(&c->bytes, row->bytes.data + in.v.off, in.len);
        break;
    case CELL_LIST:
        out.v.off = c->nitems;
        for (uint32_t k = 0; k < in.len; k++) {
            if (c->nitems == c->items_cap) {
                c->items_cap = c->items_cap ? c->items_cap * 2 : 256;
                c->items = xrealloc(c->items, c->items_cap * sizeof *c->items);
            }
            struct cell e = copy_cell(c, row, row->items[in.v.off + k]);
            c->items[c->nitems++] = e;
        }
        break;
    default:
        break;
    }
    return out;
}

/* Whether a double holds the number `text` (not an integer) as written, or
 * near enough that nothing is lost: at most 17 significant digits (every
 * double's shortest text has no more, so each value a double printed comes
 * back as that double), and inside the range of normal doubles (1e400 would
 * be Infinity, 1e-400 zero, 1e-310 a subnormal short of digits). */
static bool double_holds(const char *text, size_t len)
{
    size_t i = 0, digits = 0, zeros = 0;
    bool started = false, nonzero = false;
    if (i < len && (text[i] == '-' || text[i] == '+'))
        i++;
    for (; i < len && text[i] != 'e' && text[i] != 'E'; i++) {
        if (text[i] < '0' || text[i] > '9')
            continue; /* the point */
        if (text[i] == '0') {
            if (started)
                zeros++; /* counts only if a nonzero digit follows */
            continue;
        }
        digits += started ? zeros + 1 : 1;
        zeros = 0;
        started = nonzero = true;
    }
    if (digits > 17)
        return false;
    double v;
    if (!js_to_double((struct js_str){text, len}, &v) || !isfinite(v))
        return false;
    return !nonzero || fabs(v) >= DBL_MIN;
}

static void note_inferred(struct column *c, const struct dbz_row *row, const struct cell *cell)
{
    switch (cell->kind) {
    case CELL_BOOL:
        c->seen |= SEEN_BOOL;
        break;
    case CELL_TEXT:
        c->seen |= SEEN_TEXT;
        break;
    case CELL_JSON:
        c->seen |= SEEN_JSON;
        break;
    case CELL_NUMBER:
        if (cell->aux) {
            int64_t v;
            struct js_str text = {(const char *)row->bytes.data + cell->v.off, cell->len};
            c->seen |= SEEN_INT;
            if (cell->len <= 15)
                break; /* under 10^15 < 2^53 in magnitude: exact everywhere */
            if (!js_to_int64(text, &v))
                c->seen |= SEEN_BIG_INT | SEEN_INEXACT_INT;
            else if (v > (INT64_C(1) << 53) || v < -(INT64_C(1) << 53))
                c->seen |= SEEN_INEXACT_INT;
        } else {
            c->seen |= SEEN_FRACTION;
            if (!double_holds((const char *)row->bytes.data + cell->v.off, cell->len))
                c->seen |= SEEN_INEXACT_INT;
        }
        break;
    default:
        break;
    }
}

/* A metadata cell of the row's (its text in row->meta) into column c;
 * returns the bytes it took. */
static size_t push_text(struct row_batch *b, struct column *c, const struct dbz_row *row,
                        struct cell in)
{
    if (in.kind == CELL_BYTES) {
        size_t off = c->bytes.len;
        buf_append(&c->bytes, row->meta.data + in.v.off, in.len);
        in.v.off = off;
    }
    put_cell(b, c, in);
    return in.kind == CELL_BYTES ? in.len : 0;
}

static void push_extras(struct row_batch *b, const struct dbz_row *row,
                        const struct kafka_record *rec)
{
    const struct dbz_source *src = &row->src;
    struct column *x = b->extra;
    size_t bytes = 0;
    struct cell ts = {.kind = rec->timestamp_ms >= 0 ? CELL_INT : CELL_NULL};
    ts.v.i = rec->timestamp_ms;
    put_cell(b, &x[X_KAFKA_TIMESTAMP], ts);
    if (b->groups & CDC_META_SOURCE) {
        put_cell(b, &x[X_LSN], src->lsn);
        put_cell(b, &x[X_TX_ID], src->tx_id);
        bytes += push_text(b, &x[X_SEQUENCE], row, src->sequence);
        bytes += push_text(b, &x[X_SNAPSHOT], row, src->snapshot);
        bytes += push_text(b, &x[X_SOURCE], row, src->name);
        bytes += push_text(b, &x[X_POSITION], row, src->position);
        put_cell(b, &x[X_TX_ORDER], src->tx_order);
        put_cell(b, &x[X_TX_COLLECTION_ORDER], src->tx_collection_order);
    }
    if (b->groups & CDC_META_KEY) {
        /* The bytes only: the writer (an upload worker) makes their text. */
        struct column *c = &x[X_KEY];
        struct cell key = {0};
        if (rec->key != NULL) {
            key = (struct cell){.kind = CELL_BYTES, .len = (uint32_t)rec->key_len,
                                .v.off = c->bytes.len};
            buf_append(&c->bytes, rec->key, rec->key_len);
            bytes += rec->key_len;
        }
        put_cell(b, c, key);
    }
    if (b->groups & CDC_META_HEADERS) {
        struct column *c = &x[X_HEADERS];
        struct cell headers = {0};
        if (rec->headers != NULL) {
            headers = (struct cell){.kind = CELL_BYTES, .len = (uint32_t)rec->headers_len,
                                    .v.off = c->bytes.len};
            buf_append(&c->bytes, rec->headers, rec->headers_len);
            bytes += rec->headers_len;
        }
        put_cell(b, c, headers);
    }
    b->value_bytes += bytes;
}

static void push_meta(struct row_batch *b, const struct dbz_row *row, int64_t offset,
                      int64_t processed_at_us)
{
    buf_push(&b->op, (uint8_t)row->op);
    buf_append(&b->ts, &row->ts_ms, 8);
    buf_push(&b->ts_null, !row->has_ts);
    buf_append(&b->source_ts, &row->source_ts_ms, 8);
    buf_push(&b->source_ts_null, !row->has_source_ts);
    buf_append(&b->processed_at, &processed_at_us, 8);
    buf_append(&b->offsets, &offset, 8);
}

enum batch_add row_batch_add(struct row_batch *b, const struct dbz_row *row,
                             const struct kafka_record *rec, int64_t processed_at_us, char *why,
                             size_t whylen)
{
    /* First check every field against its column: a row is added whole or not at
     * all. The columns found are remembered (by index: adding one may move them). */
    enum { REMEMBERED = 64 };
    size_t found[REMEMBERED];
    for (size_t i = 0; i < row->nfields; i++) {
        const struct dbz_field *f = &row->fields[i];
        struct column *c = find_column(b, dbz_field_name(row, f), f->name_len);
        if (i < REMEMBERED)
            found[i] = c != NULL ? (size_t)(c - b->cols) : SIZE_MAX;
        if (c != NULL && !field_type_equal(&c->type, &f->type)) {
            char from[48], to[48];
            field_type_describe(&c->type, from, sizeof from);
            field_type_describe(&f->type, to, sizeof to);
            snprintf(why, whylen, "column '%s' changed from %s to %s", c->source_name, from, to);
            return BATCH_SCHEMA_CHANGED;
        }
    }
    uint64_t stamp = b->rows + 1;
    for (size_t i = 0; i < row->nfields; i++) {
        const struct dbz_field *f = &row->fields[i];
        struct column *c;
        if (i < REMEMBERED && found[i] != SIZE_MAX)
            c = &b->cols[found[i]];
        else /* a new name, which an earlier field of this row may just have added */
            c = find_column(b, dbz_field_name(row, f), f->name_len);
        if (c == NULL)
            c = add_column(b, dbz_field_name(row, f), f->name_len, &f->type);
        if (c->stamp == stamp)
            continue; /* a name given twice: the decoder refuses that, keep the first */
        c->stamp = stamp;
        if (c->type.inferred)
            note_inferred(c, row, &f->cell);
        size_t before = c->bytes.len + c->nitems * sizeof(struct cell);
        struct cell cell = copy_cell(c, row, f->cell);
        b->value_bytes += c->bytes.len + c->nitems * sizeof(struct cell) - before;
        put_cell(b, c, cell); /* the columns the row does not name stay null */
    }
    push_meta(b, row, rec->offset, processed_at_us);
    push_extras(b, row, rec);
    b->rows++;
    return BATCH_ADDED;
}

/* ---------- writing ---------- */

/* The Parquet type of a schema-less column. */
static enum pq_column_type inferred_type(unsigned seen)
{
    unsigned kinds = seen & (SEEN_INT | SEEN_FRACTION | SEEN_BOOL | SEEN_TEXT | SEEN_JSON);
    if (kinds == SEEN_BOOL)
        return PQ_BOOLEAN;
    if (kinds == SEEN_INT && !(seen & SEEN_BIG_INT))
        return PQ_INT64;
    if ((kinds & ~(unsigned)(SEEN_INT | SEEN_FRACTION)) == 0 && kinds != 0 &&
        !(seen & SEEN_INEXACT_INT))
        return PQ_DOUBLE;
    if (kinds == SEEN_JSON)
        return PQ_JSON;
    return PQ_STRING;
}

static bool append_typed(struct pq_writer *w, size_t col, const struct column *c,
                         const struct cell *cell)
{
    switch (cell->kind) {
    case CELL_NULL:
        return pq_append_null(w, col);
    case CELL_BOOL:
        return pq_append_bool(w, col, cell->v.i != 0);
    case CELL_INT:
        return pq_append_i64(w, col, cell->v.i);
    case CELL_DOUBLE:
        return c->type.pq == PQ_FLOAT ? pq_append_float(w, col, (float)cell->v.d)
                                      : pq_append_double(w, col, cell->v.d);
    case CELL_BYTES:
        if (c->type.pq == PQ_DECIMAL)
            return pq_append_decimal_be(w, col, c->bytes.data + cell->v.off, cell->len);
        return pq_append_bytes(w, col, c->bytes.data + cell->v.off, cell->len);
    case CELL_LIST:
        if (!pq_list_begin(w, col))
            return false;
        for (uint32_t k = 0; k < cell->len; k++)
            if (!append_typed(w, col, c, &c->items[cell->v.off + k]))
                return false;
        return pq_list_end(w, col);
    default:
        return false;
    }
}

static bool append_inferred(struct pq_writer *w, size_t col, const struct column *c,
                            enum pq_column_type type, const struct cell *cell)
{
    const char *text = (const char *)c->bytes.data + cell->v.off;
    if (cell->kind == CELL_NULL)
        return pq_append_null(w, col);
    switch (type) {
    case PQ_BOOLEAN:
        return pq_append_bool(w, col, cell->v.i != 0);
    case PQ_INT64: {
        int64_t v = 0;
        js_to_int64((struct js_str){text, cell->len}, &v);
        return pq_append_i64(w, col, v);
    }
    case PQ_DOUBLE: {
        double v = 0;
        js_to_double((struct js_str){text, cell->len}, &v); /* checked by the decoder */
        return pq_append_double(w, col, v);
    }
    default:
        if (cell->kind == CELL_BOOL)
            return cell->v.i ? pq_append_bytes(w, col, "true", 4)
                             : pq_append_bytes(w, col, "false", 5);
        return pq_append_bytes(w, col, text, cell->len);
    }
}

bool row_batch_write(const struct row_batch *b, const struct pq_options *opts, pq_sink_fn sink,
                     void *sink_ctx, char *err, size_t errlen)
{
    size_t ncols = b->ncols + META_COUNT + b->nextras;
    struct pq_column_spec *specs = xcalloc(ncols, sizeof *specs);
    enum pq_column_type *final = xcalloc(b->ncols ? b->ncols : 1, sizeof *final);
    for (size_t i = 0; i < b->ncols; i++) {
        const struct column *c = &b->cols[i];
        struct pq_column_spec *s = &specs[i];
        s->name = c->file_name;
        s->optional = true;
        if (c->type.inferred) {
            final[i] = inferred_type(c->seen);
            s->type = final[i];
        } else {
            s->type = c->type.pq;
            s->list = c->type.list;
            s->precision = c->type.precision;
            s->scale = c->type.scale;
            s->adjusted_to_utc = c->type.utc;
        }
    }
    struct pq_column_spec *m = &specs[b->ncols];
    m[0] = (struct pq_column_spec){.name = meta_names[0], .type = PQ_STRING};
    m[1] = (struct pq_column_spec){.name = meta_names[1], .type = PQ_TIMESTAMP_MILLIS,
                                   .optional = true, .adjusted_to_utc = true};
    m[2] = (struct pq_column_spec){.name = meta_names[2], .type = PQ_TIMESTAMP_MILLIS,
                                   .optional = true, .adjusted_to_utc = true};
    m[3] = (struct pq_column_spec){.name = meta_names[3], .type = PQ_TIMESTAMP_MICROS,
                                   .adjusted_to_utc = true};
    m[4] = (struct pq_column_spec){.name = meta_names[4], .type = PQ_STRING};
    m[5] = (struct pq_column_spec){.name = meta_names[5], .type = PQ_INT32};
    m[6] = (struct pq_column_spec){.name = meta_names[6], .type = PQ_INT64};
    for (size_t i = 0; i < b->nextras; i++) {
        const struct column *c = &b->extra[b->extras[i]];
        m[META_COUNT + i] = (struct pq_column_spec){.name = c->file_name, .type = c->type.pq,
                                                    .optional = true, .adjusted_to_utc = c->type.utc};
    }

    const char *why = NULL;
    struct pq_writer *w = pq_writer_new(specs, ncols, opts, sink, sink_ctx, &why);
    bool ok = w != NULL;
    if (!ok)
        snprintf(err, errlen, "Parquet schema: %s", why);
    if (ok) {
        char text[64];
        pq_writer_add_metadata(w, "cdc.topic", b->topic);
        snprintf(text, sizeof text, "%d", b->partition);
        pq_writer_add_metadata(w, "cdc.partition", text);
        snprintf(text, sizeof text, "%lld", (long long)row_batch_first_offset(b));
        pq_writer_add_metadata(w, "cdc.first_offset", text);
        snprintf(text, sizeof text, "%lld", (long long)row_batch_last_offset(b));
        pq_writer_add_metadata(w, "cdc.last_offset", text);
    }
    struct json_scan key_scan = {0};
    struct buf key_text = {0};
    const int64_t *ts = (const int64_t *)b->ts.data, *sts = (const int64_t *)b->source_ts.data;
    const int64_t *pat = (const int64_t *)b->processed_at.data;
    const int64_t *off = (const int64_t *)b->offsets.data;
    size_t topic_len = strlen(b->topic);
    /* Each column's next value: data columns, then the extras. */
    size_t *next = xcalloc(b->ncols + b->nextras, sizeof *next);
    static const struct cell null_cell = {.kind = CELL_NULL};
    for (size_t r = 0; ok && r < b->rows; r++) {
        for (size_t i = 0; ok && i < b->ncols; i++) {
            const struct column *c = &b->cols[i];
            const struct cell *cell = has_value(c, r) ? &c->cells[next[i]++] : &null_cell;
            ok = c->type.inferred ? append_inferred(w, i, c, final[i], cell)
                                  : append_typed(w, i, c, cell);
        }
        size_t k = b->ncols;
        char op = (char)b->op.data[r];
        ok = ok && pq_append_bytes(w, k, &op, 1) &&
             (b->ts_null.data[r] ? pq_append_null(w, k + 1) : pq_append_i64(w, k + 1, ts[r])) &&
             (b->source_ts_null.data[r] ? pq_append_null(w, k + 2)
                                        : pq_append_i64(w, k + 2, sts[r])) &&
             pq_append_i64(w, k + 3, pat[r]) && pq_append_bytes(w, k + 4, b->topic, topic_len) &&
             pq_append_i32(w, k + 5, b->partition) && pq_append_i64(w, k + 6, off[r]);
        for (size_t i = 0; ok && i < b->nextras; i++) {
            const struct column *c = &b->extra[b->extras[i]];
            const struct cell *cell =
                has_value(c, r) ? &c->cells[next[b->ncols + i]++] : &null_cell;
            if (b->extras[i] != X_KEY || cell->kind == CELL_NULL) {
                ok = append_typed(w, k + META_COUNT + i, c, cell);
                continue;
            }
            buf_reset(&key_text);
            const void *key = cell->len > 0 ? c->bytes.data + cell->v.off : (const void *)""; /* not null */
            ok = kafka_key_text(&key_scan, key, cell->len, &key_text)
                     ? pq_append_bytes(w, k + META_COUNT + i, key_text.data, key_text.len)
                     : pq_append_null(w, k + META_COUNT + i);
        }
        ok = ok && pq_end_row(w);
    }
    ok = ok && pq_writer_close(w);
    if (!ok && w != NULL)
        snprintf(err, errlen, "%s", pq_writer_error(w));
    pq_writer_free(w);
    free(next);
    js_free(&key_scan);
    buf_free(&key_text);
    free(specs);
    free(final);
    return ok;
}
