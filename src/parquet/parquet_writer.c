/* parquet_writer.c -- see parquet.h for the contract.
 *
 * Per column, the current row group is buffered as:
 *   valid        (flat OPTIONAL columns) one bit per row: set when the row
 *                has a value (definition level 1), clear for a null (0);
 *                the page's levels are encoded from it directly;
 *   def / rep    (lists only) one byte per level entry ("slot"): a value, a
 *                null, an empty or null list;
 *   row_slots    (lists only) the first slot of each row;
 *   and either   indices into a dictionary of distinct values (while the
 *                dictionary is alive), or
 *                values: fixed-width little-endian values, or the bytes of
 *                byte arrays with their start offsets.
 * A dictionary that grows past the limit is turned into plain values on the
 * spot, and the chunk is written PLAIN (INT32 and INT64 pages
 * DELTA_BINARY_PACKED where that is smaller, see delta.h). At flush, a
 * dictionary that would not be smaller than PLAIN is dropped the same way.
 */
#include "parquet.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "parquet_internal.h"
#include "rle.h"
#include "utf8.h"
#include "version.h"
#include "xalloc.h"

#define STATS_MAX_BYTES 4096 /* longer byte-array min/max are not written */
#define BYTE_ARRAY_FLUSH_AT ((size_t)1 << 31) /* keeps offsets within uint32 */
/* After this many values, a dictionary holding more than half of them as
 * distinct entries is given up: it would not pay for its hashing. */
#define DICT_PROBE_VALUES 16384

enum row_state { NEEDS_VALUE, HAS_VALUE, IN_LIST };

struct dict {
    uint32_t *slots;  /* hash table of entry index + 1; 0 is empty */
    uint64_t *hashes; /* hash of each entry */
    size_t cap;       /* slots, a power of two */
    size_t count;
    size_t hashes_cap;
    struct buf values;  /* fixed-width values, or byte-array bytes */
    struct buf offsets; /* byte arrays: uint32 start offsets, count + 1 */
    size_t plain_bytes; /* size of the PLAIN dictionary page */
};

struct column {
    struct pq_column_info info;
    struct buf valid; /* flat OPTIONAL: bit s set when slot s has a value */
    struct buf def, rep, row_slots; /* lists: a byte per slot, first slot of each row */
    size_t slots;
    size_t nonnull;
    bool use_dict;
    struct buf indices; /* uint32 per non-null value, while use_dict */
    struct dict dict;
    struct buf marks, touched; /* scratch of page_minmax: entries seen on a page */
    struct buf values;  /* plain values, while !use_dict */
    struct buf offsets; /* byte arrays: uint32 start offsets, nonnull + 1 */
    size_t plain_bytes; /* PLAIN size of all buffered values */
    size_t buffered;    /* memory-relevant raw bytes (values and levels) */
    enum row_state state;
    size_t list_entries;
};

struct pq_writer {
    struct column *cols;
    size_t ncols;
    struct pq_options opts;
    pq_sink_fn sink;
    void *sink_ctx;
    bool started, failed;
    uint64_t offset;
    uint64_t rows_total;
    size_t rows_in_group;
    struct pq_row_group_meta *groups;
    size_t ngroups;
    struct pq_kv *kv;
    size_t nkv;
    struct buf page, compressed, header;
    char error[512];
};

/* ---------- errors ---------- */

static bool fail(struct pq_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct pq_writer *w, const char *fmt, ...)
{
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->error, sizeof w->error, fmt, ap);
        va_end(ap);
        w->failed = true;
    }
    return false;
}

const char *pq_writer_error(const struct pq_writer *w)
{
    return w->error[0] ? w->error : "no error";
}

/* ---------- options, schema ---------- */

void pq_options_default(struct pq_options *opts)
{
    opts->codec = PQ_CODEC_SNAPPY;
    opts->compression_level = 0;
    opts->row_group_bytes = (size_t)64 << 20;
    opts->page_bytes = (size_t)1 << 20;
    opts->page_rows = 20000;
    opts->dictionary_limit = (size_t)1 << 20;
    opts->dictionary = true;
}

int pq_decimal_fixed_len(int precision)
{
    /* The fewest bytes whose signed range holds 10^precision - 1. */
    int n = 1;
    while (n < 32 && (double)(8 * n - 1) * log10(2.0) < (double)precision)
        n++;
    return n;
}

static const char *describe_column(struct pq_column_info *info)
{
    const struct pq_column_spec *s = &info->spec;
    info->type_length = 0;
    switch (s->type) {
    case PQ_BOOLEAN:
        info->physical = PHYS_BOOLEAN;
        info->value_width = 1;
        info->order = ORDER_SIGNED;
        break;
    case PQ_INT8:
    case PQ_INT16:
    case PQ_INT32:
    case PQ_DATE:
    case PQ_TIME_MILLIS:
        info->physical = PHYS_INT32;
        info->value_width = 4;
        info->order = ORDER_SIGNED;
        break;
    case PQ_INT64:
    case PQ_TIME_MICROS:
    case PQ_TIMESTAMP_MILLIS:
    case PQ_TIMESTAMP_MICROS:
        info->physical = PHYS_INT64;
        info->value_width = 8;
        info->order = ORDER_SIGNED;
        break;
    case PQ_FLOAT:
        info->physical = PHYS_FLOAT;
        info->value_width = 4;
        info->order = ORDER_FLOAT;
        break;
    case PQ_DOUBLE:
        info->physical = PHYS_DOUBLE;
        info->value_width = 8;
        info->order = ORDER_FLOAT;
        break;
    case PQ_STRING:
    case PQ_JSON:
    case PQ_ENUM:
    case PQ_BINARY:
        info->physical = PHYS_BYTE_ARRAY;
        info->value_width = 0;
        info->order = ORDER_UNSIGNED_BYTES;
        break;
    case PQ_UUID:
        info->physical = PHYS_FIXED;
        info->type_length = 16;
        info->value_width = 16;
        info->order = ORDER_UNSIGNED_BYTES;
        break;
    case PQ_DECIMAL:
        if (s->precision < 1 || s->precision > 38)
            return "decimal precision must be from 1 to 38";
        if (s->scale < 0 || s->scale > s->precision)
            return "decimal scale must be from 0 to the precision";
        if (s->precision <= 9) {
            info->physical = PHYS_INT32;
            info->value_width = 4;
            info->order = ORDER_SIGNED;
        } else if (s->precision <= 18) {
            info->physical = PHYS_INT64;
            info->value_width = 8;
            info->order = ORDER_SIGNED;
        } else {
            info->physical = PHYS_FIXED;
            info->type_length = pq_decimal_fixed_len(s->precision);
            info->value_width = info->type_length;
            info->order = ORDER_SIGNED_BYTES;
        }
        break;
    default:
        return "unknown column type";
    }
    if (s->list) {
        info->max_rep = 1;
        info->max_def = s->optional ? 3 : 2;
    } else {
        info->max_rep = 0;
        info->max_def = s->optional ? 1 : 0;
    }
    return NULL;
}

/* ---------- dictionary ---------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ (w * 0x87c37b91114253d5ULL));
        h = ((h << 31) | (h >> 33)) * 0x4cf5ad432745937fULL;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ (w * 0x87c37b91114253d5ULL));
        h = ((h << 31) | (h >> 33)) * 0x4cf5ad432745937fULL;
    }
    return mix64(h);
}

static void dict_init(struct dict *d, bool byte_array)
{
    /* Small: a file of sparse rows has many columns of few values each, and
     * a dictionary doubles as it fills. */
    d->cap = 64;
    d->slots = xcalloc(d->cap, sizeof *d->slots);
    d->hashes_cap = 32;
    d->hashes = xmalloc(d->hashes_cap * sizeof *d->hashes);
    d->count = 0;
    d->plain_bytes = 0;
    buf_reset(&d->values);
    buf_reserve(&d->values, 64); /* never NULL, even when holding only empty values */
    buf_reset(&d->offsets);
    if (byte_array) {
        uint32_t zero = 0;
        buf_append(&d->offsets, &zero, 4);
    }
}

static void dict_release(struct dict *d)
{
    free(d->slots);
    free(d->hashes);
    d->slots = NULL;
    d->hashes = NULL;
    d->cap = d->count = d->hashes_cap = 0;
    buf_free(&d->values);
    buf_free(&d->offsets);
}

static void dict_grow(struct dict *d)
{
    size_t cap = d->cap * 2;
    uint32_t *slots = xcalloc(cap, sizeof *slots);
    for (size_t e = 0; e < d->count; e++) {
        size_t i = d->hashes[e] & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)(e + 1);
    }
    free(d->slots);
    d->slots = slots;
    d->cap = cap;
}

static inline const uint8_t *dict_entry(const struct dict *d, bool byte_array, int width,
                                        uint32_t e, size_t *len)
{
    if (byte_array) {
        const uint32_t *off = (const uint32_t *)d->offsets.data;
        *len = off[e + 1] - off[e];
        return d->values.data + off[e];
    }
    *len = (size_t)width;
    return d->values.data + (size_t)e * (size_t)width;
}

/* Index of v in the dictionary, inserting it when new. */
static uint32_t dict_insert(struct dict *d, bool byte_array, int width, const uint8_t *v,
                            size_t len)
{
    uint64_t h;
    if (!byte_array && width == 4) {
        uint32_t x;
        memcpy(&x, v, 4);
        h = mix64(x);
    } else if (!byte_array && width == 8) {
        uint64_t x;
        memcpy(&x, v, 8);
        h = mix64(x ^ 0x9E3779B97F4A7C15ULL);
    } else {
        h = hash_bytes(v, len);
    }
    size_t mask = d->cap - 1;
    size_t i = h & mask;
    for (;;) {
        uint32_t slot = d->slots[i];
        if (slot == 0)
            break;
        uint32_t e = slot - 1;
        if (d->hashes[e] == h) {
            size_t elen;
            const uint8_t *ev = dict_entry(d, byte_array, width, e, &elen);
            if (elen == len && (len == 0 || memcmp(ev, v, len) == 0))
                return e;
        }
        i = (i + 1) & mask;
    }
    uint32_t e = (uint32_t)d->count++;
    if (d->count > d->hashes_cap) {
        d->hashes_cap *= 2;
        d->hashes = xrealloc(d->hashes, d->hashes_cap * sizeof *d->hashes);
    }
    d->hashes[e] = h;
    d->slots[i] = e + 1;
    buf_append(&d->values, v, len);
    if (byte_array) {
        uint32_t end = (uint32_t)d->values.len;
        buf_append(&d->offsets, &end, 4);
        d->plain_bytes += 4 + len;
    } else {
        d->plain_bytes += len;
    }
    if (d->count * 2 > d->cap)
        dict_grow(d);
    return e;
}

/* ---------- column buffers ---------- */

static bool is_byte_array(const struct column *c)
{
    return c->info.physical == PHYS_BYTE_ARRAY;
}

static void column_reset(struct column *c, const struct pq_options *opts)
{
    buf_reset(&c->valid);
    buf_reset(&c->def);
    buf_reset(&c->rep);
    buf_reset(&c->row_slots);
    buf_reset(&c->indices);
    buf_reset(&c->values);
    buf_reset(&c->offsets);
    buf_reset(&c->marks);
    buf_reserve(&c->values, 64); /* never NULL, even when holding only empty values */
    if (is_byte_array(c)) {
        uint32_t zero = 0;
        buf_append(&c->offsets, &zero, 4);
    }
    c->slots = c->nonnull = 0;
    c->plain_bytes = c->buffered = 0;
    c->state = NEEDS_VALUE;
    c->list_entries = 0;
    dict_release(&c->dict);
    c->use_dict = opts->dictionary && c->info.physical != PHYS_BOOLEAN;
    if (c->use_dict)
        dict_init(&c->dict, is_byte_array(c));
}

static void column_free(struct column *c)
{
    buf_free(&c->valid);
    buf_free(&c->def);
    buf_free(&c->rep);
    buf_free(&c->row_slots);
    buf_free(&c->indices);
    buf_free(&c->values);
    buf_free(&c->offsets);
    buf_free(&c->marks);
    buf_free(&c->touched);
    dict_release(&c->dict);
    free((char *)c->info.spec.name);
}

static void plain_push(struct column *c, const uint8_t *v, size_t len)
{
    buf_append(&c->values, v, len);
    if (is_byte_array(c)) {
        uint32_t end = (uint32_t)c->values.len;
        buf_append(&c->offsets, &end, 4);
    }
}

/* Turns dictionary indices back into plain values and drops the dictionary. */
static void dict_fall_back(struct column *c)
{
    bool ba = is_byte_array(c);
    const uint32_t *idx = (const uint32_t *)c->indices.data;
    buf_reserve(&c->values, ba ? c->plain_bytes : c->nonnull * (size_t)c->info.value_width);
    if (ba)
        buf_reserve(&c->offsets, c->nonnull * 4);
    for (size_t k = 0; k < c->nonnull; k++) {
        size_t len;
        const uint8_t *v = dict_entry(&c->dict, ba, c->info.value_width, idx[k], &len);
        plain_push(c, v, len);
    }
    buf_free(&c->indices);
    dict_release(&c->dict);
    c->use_dict = false;
}

/* A flat OPTIONAL column: its levels are the bits of c->valid. */
static inline bool has_bitmap(const struct column *c)
{
    return c->info.max_rep == 0 && c->info.max_def > 0;
}

static void push_levels(struct column *c, uint8_t def, uint8_t rep)
{
    if (has_bitmap(c)) {
        if (c->slots % 8 == 0) {
            buf_push(&c->valid, 0);
            c->buffered++;
        }
        c->valid.data[c->slots / 8] |= (uint8_t)((def != 0) << (c->slots % 8));
    } else if (c->info.max_rep > 0) {
        buf_push(&c->def, def);
        buf_push(&c->rep, rep);
        c->buffered += 2;
    }
    c->slots++;
}

/* Whether slot s holds a value (rather than a null or an empty or null list). */
static inline bool slot_has_value(const struct column *c, size_t s)
{
    if (has_bitmap(c))
        return (c->valid.data[s / 8] >> (s % 8)) & 1;
    return c->info.max_def == 0 || c->def.data[s] == c->info.max_def;
}

static void row_starts(struct column *c)
{
    if (c->info.max_rep > 0) {
        uint32_t s = (uint32_t)c->slots;
        buf_append(&c->row_slots, &s, 4);
        c->buffered += 4;
    }
}

static bool check_column(struct pq_writer *w, size_t col)
{
    if (w->failed)
        return false;
    if (col >= w->ncols)
        return fail(w, "column index %zu out of range (the schema has %zu columns)", col, w->ncols);
    return true;
}

/* Levels for one value (or a null when v == NULL), checking the row state. */
static bool place_value(struct pq_writer *w, struct column *c, bool is_null)
{
    const char *name = c->info.spec.name;
    if (c->state == IN_LIST) {
        push_levels(c, (uint8_t)(is_null ? c->info.max_def - 1 : c->info.max_def),
                    c->list_entries == 0 ? 0 : 1);
        c->list_entries++;
        return true;
    }
    if (c->state == HAS_VALUE)
        return fail(w, "row %llu: column '%s' already has a value",
                    (unsigned long long)w->rows_total, name);
    if (c->info.spec.list && !is_null)
        return fail(w, "row %llu: column '%s' is a list: begin it with pq_list_begin",
                    (unsigned long long)w->rows_total, name);
    if (is_null && !c->info.spec.optional)
        return fail(w, "row %llu: column '%s' is required and cannot be null",
                    (unsigned long long)w->rows_total, name);
    row_starts(c);
    push_levels(c, (uint8_t)(is_null ? 0 : c->info.max_def), 0);
    c->state = HAS_VALUE;
    return true;
}

static bool store(struct pq_writer *w, struct column *c, const uint8_t *v, size_t len)
{
    if (!place_value(w, c, false))
        return false;
    c->nonnull++;
    size_t plain = is_byte_array(c) ? 4 + len : len;
    c->plain_bytes += plain;
    c->buffered += plain;
    if (c->use_dict) {
        uint32_t e = dict_insert(&c->dict, is_byte_array(c), c->info.value_width, v, len);
        buf_append(&c->indices, &e, 4);
        if (c->dict.plain_bytes > w->opts.dictionary_limit ||
            (c->nonnull == DICT_PROBE_VALUES && c->dict.count * 2 > DICT_PROBE_VALUES))
            dict_fall_back(c);
    } else {
        plain_push(c, v, len);
    }
    return true;
}

static const char *type_name(enum pq_column_type t)
{
    static const char *const names[] = {
        "BOOLEAN", "INT8",  "INT16", "INT32", "INT64",          "FLOAT",
        "DOUBLE",  "STRING", "JSON", "ENUM",  "BINARY",         "UUID",
        "DECIMAL", "DATE",  "TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
    };
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static bool wrong_kind(struct pq_writer *w, const struct column *c, const char *what)
{
    return fail(w, "row %llu: column '%s' of type %s cannot take %s",
                (unsigned long long)w->rows_total, c->info.spec.name, type_name(c->info.spec.type),
                what);
}

/* Stores an unscaled decimal, checking it has at most `precision` digits. */
static bool store_decimal(struct pq_writer *w, struct column *c, __int128 v)
{
    int p = c->info.spec.precision;
    __int128 limit = 1;
    for (int i = 0; i < p; i++)
        limit *= 10;
    if (v >= limit || v <= -limit)
        return fail(w, "row %llu: column '%s': decimal value has more than %d digits",
                    (unsigned long long)w->rows_total, c->info.spec.name, p);
    if (c->info.physical == PHYS_INT32) {
        int32_t x = (int32_t)v;
        return store(w, c, (const uint8_t *)&x, 4);
    }
    if (c->info.physical == PHYS_INT64) {
        int64_t x = (int64_t)v;
        return store(w, c, (const uint8_t *)&x, 8);
    }
    uint8_t be[32];
    int n = c->info.type_length;
    for (int i = n - 1; i >= 0; i--) {
        be[i] = (uint8_t)(v & 0xFF);
        v >>= 8; /* arithmetic shift keeps the sign */
    }
    return store(w, c, be, (size_t)n);
}

/* ---------- appends ---------- */

bool pq_append_null(struct pq_writer *w, size_t col)
{
    if (!check_column(w, col))
        return false;
    return place_value(w, &w->cols[col], true);
}

bool pq_append_bool(struct pq_writer *w, size_t col, bool v)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (c->info.spec.type != PQ_BOOLEAN)
        return wrong_kind(w, c, "a boolean");
    uint8_t b = v ? 1 : 0;
    return store(w, c, &b, 1);
}

bool pq_append_i32(struct pq_writer *w, size_t col, int32_t v)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    switch (c->info.spec.type) {
    case PQ_INT8:
        if (v < -128 || v > 127)
            return fail(w, "row %llu: column '%s': %d is out of the INT8 range",
                        (unsigned long long)w->rows_total, c->info.spec.name, v);
        break;
    case PQ_INT16:
        if (v < -32768 || v > 32767)
            return fail(w, "row %llu: column '%s': %d is out of the INT16 range",
                        (unsigned long long)w->rows_total, c->info.spec.name, v);
        break;
    case PQ_INT32:
    case PQ_DATE:
    case PQ_TIME_MILLIS:
        break;
    case PQ_INT64:
    case PQ_TIME_MICROS:
    case PQ_TIMESTAMP_MILLIS:
    case PQ_TIMESTAMP_MICROS:
    case PQ_DECIMAL:
        return pq_append_i64(w, col, v);
    default:
        return wrong_kind(w, c, "a 32-bit integer");
    }
    return store(w, c, (const uint8_t *)&v, 4);
}

bool pq_append_i64(struct pq_writer *w, size_t col, int64_t v)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    switch (c->info.spec.type) {
    case PQ_INT64:
    case PQ_TIME_MICROS:
    case PQ_TIMESTAMP_MILLIS:
    case PQ_TIMESTAMP_MICROS:
        return store(w, c, (const uint8_t *)&v, 8);
    case PQ_DECIMAL:
        return store_decimal(w, c, v);
    case PQ_INT8:
    case PQ_INT16:
    case PQ_INT32:
    case PQ_DATE:
    case PQ_TIME_MILLIS:
        if (v < INT32_MIN || v > INT32_MAX)
            return fail(w, "row %llu: column '%s': %lld is out of the 32-bit range",
                        (unsigned long long)w->rows_total, c->info.spec.name, (long long)v);
        return pq_append_i32(w, col, (int32_t)v);
    default:
        return wrong_kind(w, c, "a 64-bit integer");
    }
}

bool pq_append_float(struct pq_writer *w, size_t col, float v)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (c->info.spec.type == PQ_DOUBLE)
        return pq_append_double(w, col, v);
    if (c->info.spec.type != PQ_FLOAT)
        return wrong_kind(w, c, "a float");
    return store(w, c, (const uint8_t *)&v, 4);
}

bool pq_append_double(struct pq_writer *w, size_t col, double v)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (c->info.spec.type != PQ_DOUBLE)
        return wrong_kind(w, c, "a double");
    return store(w, c, (const uint8_t *)&v, 8);
}

bool pq_append_bytes(struct pq_writer *w, size_t col, const void *data, size_t len)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    switch (c->info.spec.type) {
    case PQ_STRING:
    case PQ_JSON:
    case PQ_ENUM: {
        size_t bad;
        if (!utf8_valid(data, len, &bad))
            return fail(w, "row %llu: column '%s': invalid UTF-8 at byte %zu",
                        (unsigned long long)w->rows_total, c->info.spec.name, bad);
        break;
    }
    case PQ_BINARY:
        break;
    case PQ_UUID:
        if (len != 16)
            return fail(w, "row %llu: column '%s': a UUID is 16 bytes, not %zu",
                        (unsigned long long)w->rows_total, c->info.spec.name, len);
        break;
    default:
        return wrong_kind(w, c, "bytes");
    }
    if (len > (size_t)INT32_MAX / 2)
        return fail(w, "row %llu: column '%s': a value of %zu bytes is too large",
                    (unsigned long long)w->rows_total, c->info.spec.name, len);
    return store(w, c, data, len);
}

bool pq_append_decimal_be(struct pq_writer *w, size_t col, const uint8_t *be, size_t len)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (c->info.spec.type != PQ_DECIMAL)
        return wrong_kind(w, c, "a decimal");
    if (len == 0)
        return fail(w, "row %llu: column '%s': empty decimal value",
                    (unsigned long long)w->rows_total, c->info.spec.name);
    /* Drop sign-extension bytes, then the rest must fit 16 bytes. */
    uint8_t ext = (be[0] & 0x80) ? 0xFF : 0x00;
    while (len > 1 && be[0] == ext && ((be[1] & 0x80) ? 0xFF : 0x00) == ext) {
        be++;
        len--;
    }
    if (len > 16)
        return fail(w, "row %llu: column '%s': decimal value has more than %d digits",
                    (unsigned long long)w->rows_total, c->info.spec.name, c->info.spec.precision);
    __int128 v = (be[0] & 0x80) ? -1 : 0;
    for (size_t i = 0; i < len; i++)
        v = (__int128)(((unsigned __int128)v << 8) | be[i]);
    return store_decimal(w, c, v);
}

bool pq_list_begin(struct pq_writer *w, size_t col)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (!c->info.spec.list)
        return fail(w, "column '%s' is not a list", c->info.spec.name);
    if (c->state != NEEDS_VALUE)
        return fail(w, "row %llu: column '%s' already has a value",
                    (unsigned long long)w->rows_total, c->info.spec.name);
    row_starts(c);
    c->state = IN_LIST;
    c->list_entries = 0;
    return true;
}

bool pq_list_end(struct pq_writer *w, size_t col)
{
    if (!check_column(w, col))
        return false;
    struct column *c = &w->cols[col];
    if (c->state != IN_LIST)
        return fail(w, "column '%s': pq_list_end without pq_list_begin", c->info.spec.name);
    if (c->list_entries == 0) /* an empty list: one entry below the repeated level */
        push_levels(c, (uint8_t)(c->info.spec.optional ? 1 : 0), 0);
    c->state = HAS_VALUE;
    return true;
}

/* ---------- statistics ---------- */

static void stats_clear(struct pq_stats *s)
{
    s->null_count = 0;
    s->has_minmax = false;
    s->unknown = false;
    buf_reset(&s->min);
    buf_reset(&s->max);
}

static void stats_free(struct pq_stats *s)
{
    buf_free(&s->min);
    buf_free(&s->max);
}

static int compare_values(const struct pq_column_info *info, const uint8_t *a, size_t alen,
                          const uint8_t *b, size_t blen)
{
    switch (info->physical) {
    case PHYS_BOOLEAN:
        return (int)a[0] - (int)b[0];
    case PHYS_INT32: {
        int32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return (x > y) - (x < y);
    }
    case PHYS_INT64: {
        int64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case PHYS_FLOAT: {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return (x > y) - (x < y);
    }
    case PHYS_DOUBLE: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case PHYS_BYTE_ARRAY:
    case PHYS_FIXED: {
        if (info->order == ORDER_SIGNED_BYTES && alen > 0 && blen > 0 && (a[0] ^ b[0]) & 0x80)
            return (a[0] & 0x80) ? -1 : 1; /* different signs */
        size_t n = alen < blen ? alen : blen;
        int r = n ? memcmp(a, b, n) : 0;
        if (r != 0)
            return r < 0 ? -1 : 1;
        return (alen > blen) - (alen < blen);
    }
    }
    return 0;
}

static bool is_nan(const struct pq_column_info *info, const uint8_t *v)
{
    if (info->physical == PHYS_FLOAT) {
        float x;
        memcpy(&x, v, 4);
        return isnan(x);
    }
    if (info->physical == PHYS_DOUBLE) {
        double x;
        memcpy(&x, v, 8);
        return isnan(x);
    }
    return false;
}

/* The format's rule for zeros: a min of +0 is written -0, a max of -0 as +0. */
static void normalize_zero(const struct pq_column_info *info, struct pq_stats *s)
{
    if (info->physical == PHYS_DOUBLE) {
        double x;
        memcpy(&x, s->min.data, 8);
        if (x == 0.0) {
            x = -0.0;
            memcpy(s->min.data, &x, 8);
        }
        memcpy(&x, s->max.data, 8);
        if (x == 0.0) {
            x = 0.0;
            memcpy(s->max.data, &x, 8);
        }
    } else if (info->physical == PHYS_FLOAT) {
        float x;
        memcpy(&x, s->min.data, 4);
        if (x == 0.0f) {
            x = -0.0f;
            memcpy(s->min.data, &x, 4);
        }
        memcpy(&x, s->max.data, 4);
        if (x == 0.0f) {
            x = 0.0f;
            memcpy(s->max.data, &x, 4);
        }
    }
}

/* The v-th buffered non-null value of a column (plain or dictionary). */
static inline const uint8_t *value_at(const struct column *c, size_t v, size_t *len)
{
    if (c->use_dict)
        return dict_entry(&c->dict, is_byte_array(c), c->info.value_width,
                          ((const uint32_t *)c->indices.data)[v], len);
    if (is_byte_array(c)) {
        const uint32_t *off = (const uint32_t *)c->offsets.data;
        *len = off[v + 1] - off[v];
        return c->values.data + off[v];
    }
    *len = (size_t)c->info.value_width;
    return c->values.data + v * (size_t)c->info.value_width;
}

static void copy_into(struct buf *which, const uint8_t *v, size_t len)
{
    buf_reset(which);
    buf_append(which, v, len);
}

/* Typed min/max over a contiguous array of fixed-width values, skipping NaN.
 * Sets *imin and *imax to the positions, or returns false if all are NaN. */
#define DEFINE_MINMAX(NAME, T, SKIP)                                                           \
    static bool NAME(const uint8_t *data, size_t n, size_t *imin, size_t *imax)                \
    {                                                                                          \
        const T *v = (const T *)(const void *)data;                                            \
        size_t lo = n, hi = n;                                                                 \
        T min = 0, max = 0;                                                                    \
        for (size_t i = 0; i < n; i++) {                                                       \
            T x;                                                                               \
            memcpy(&x, v + i, sizeof x);                                                       \
            if (SKIP(x))                                                                       \
                continue;                                                                      \
            if (lo == n || x < min) {                                                          \
                min = x;                                                                       \
                lo = i;                                                                        \
            }                                                                                  \
            if (hi == n || x > max) {                                                          \
                max = x;                                                                       \
                hi = i;                                                                        \
            }                                                                                  \
        }                                                                                      \
        *imin = lo;                                                                            \
        *imax = hi;                                                                            \
        return lo != n;                                                                        \
    }
#define NEVER(x) ((void)(x), 0)
DEFINE_MINMAX(minmax_i32, int32_t, NEVER)
DEFINE_MINMAX(minmax_i64, int64_t, NEVER)
DEFINE_MINMAX(minmax_u8, uint8_t, NEVER)
DEFINE_MINMAX(minmax_f32, float, isnan)
DEFINE_MINMAX(minmax_f64, double, isnan)

/* Min and max of the non-null values [v0, v1) into s. */
static void page_minmax(struct column *c, size_t v0, size_t v1, struct pq_stats *s)
{
    const struct pq_column_info *info = &c->info;
    const uint8_t *min = NULL, *max = NULL;
    size_t minlen = 0, maxlen = 0;
    if (v1 == v0)
        return;
    if (!c->use_dict && info->physical != PHYS_BYTE_ARRAY && info->physical != PHYS_FIXED) {
        /* Plain fixed-width numbers: one typed pass. */
        size_t w = (size_t)info->value_width, lo, hi;
        const uint8_t *base = c->values.data + v0 * w;
        bool any = info->physical == PHYS_INT32    ? minmax_i32(base, v1 - v0, &lo, &hi)
                   : info->physical == PHYS_INT64  ? minmax_i64(base, v1 - v0, &lo, &hi)
                   : info->physical == PHYS_FLOAT  ? minmax_f32(base, v1 - v0, &lo, &hi)
                   : info->physical == PHYS_DOUBLE ? minmax_f64(base, v1 - v0, &lo, &hi)
                                                   : minmax_u8(base, v1 - v0, &lo, &hi);
        if (!any)
            return;
        min = base + lo * w;
        max = base + hi * w;
        minlen = maxlen = w;
    } else if (c->use_dict) {
        /* Compare each distinct dictionary entry of the page once. */
        const uint32_t *idx = (const uint32_t *)c->indices.data;
        buf_reserve(&c->marks, c->dict.count);
        if (c->marks.len < c->dict.count) {
            memset(c->marks.data + c->marks.len, 0, c->dict.count - c->marks.len);
            c->marks.len = c->dict.count;
        }
        buf_reset(&c->touched);
        for (size_t v = v0; v < v1; v++) {
            uint32_t e = idx[v];
            if (!c->marks.data[e]) {
                c->marks.data[e] = 1;
                buf_append(&c->touched, &e, 4);
            }
        }
        const uint32_t *t = (const uint32_t *)c->touched.data;
        size_t nt = c->touched.len / 4;
        for (size_t k = 0; k < nt; k++) {
            size_t len;
            const uint8_t *x = dict_entry(&c->dict, is_byte_array(c), info->value_width, t[k], &len);
            c->marks.data[t[k]] = 0;
            if (is_nan(info, x))
                continue;
            if (min == NULL || compare_values(info, x, len, min, minlen) < 0) {
                min = x;
                minlen = len;
            }
            if (max == NULL || compare_values(info, x, len, max, maxlen) > 0) {
                max = x;
                maxlen = len;
            }
        }
    } else {
        for (size_t v = v0; v < v1; v++) {
            size_t len;
            const uint8_t *x = value_at(c, v, &len);
            if (min == NULL || compare_values(info, x, len, min, minlen) < 0) {
                min = x;
                minlen = len;
            }
            if (max == NULL || compare_values(info, x, len, max, maxlen) > 0) {
                max = x;
                maxlen = len;
            }
        }
    }
    if (min == NULL)
        return; /* only NaN */
    if (minlen > STATS_MAX_BYTES || maxlen > STATS_MAX_BYTES) {
        s->unknown = true;
        return;
    }
    copy_into(&s->min, min, minlen);
    copy_into(&s->max, max, maxlen);
    s->has_minmax = true;
    normalize_zero(info, s);
}

static void stats_merge(const struct pq_column_info *info, struct pq_stats *into,
                        const struct pq_stats *page)
{
    into->null_count += page->null_count;
    into->unknown = into->unknown || page->unknown;
    if (!page->has_minmax)
        return;
    if (!into->has_minmax) {
        copy_into(&into->min, page->min.data, page->min.len);
        copy_into(&into->max, page->max.data, page->max.len);
        into->has_minmax = true;
        return;
    }
    if (compare_values(info, page->min.data, page->min.len, into->min.data, into->min.len) < 0)
        copy_into(&into->min, page->min.data, page->min.len);
    if (compare_values(info, page->max.data, page->max.len, into->max.data, into->max.len) > 0)
        copy_into(&into->max, page->max.data, page->max.len);
}

/* ---------- output ---------- */

static bool emit(struct pq_writer *w, const void *data, size_t len)
{
    if (len == 0)
        return true;
    if (!w->sink(w->sink_ctx, data, len))
        return fail(w, "the output sink failed after %llu bytes", (unsigned long long)w->offset);
    w->offset += len;
    return true;
}

static bool start_file(struct pq_writer *w)
{
    if (w->started)
        return true;
    w->started = true;
    return emit(w, "PAR1", 4);
}

/* Compresses w->page and writes header + body; returns the page's sizes. */
static bool emit_page(struct pq_writer *w, bool dictionary, int32_t num_values,
                      enum pq_encoding enc, const struct pq_stats *stats, bool legacy,
                      struct pq_chunk_meta *m)
{
    const char *why = NULL;
    if (w->page.len > (size_t)INT32_MAX)
        return fail(w, "a page of %zu bytes is too large", w->page.len);
    if (!pq_compress(w->opts.codec, w->opts.compression_level, w->page.data, w->page.len,
                     &w->compressed, &why))
        return fail(w, "%s", why);
    if (w->compressed.len > (size_t)INT32_MAX)
        return fail(w, "a compressed page of %zu bytes is too large", w->compressed.len);
    buf_reset(&w->header);
    if (dictionary)
        pq_footer_dictionary_page_header(&w->header, (int32_t)w->page.len,
                                         (int32_t)w->compressed.len, num_values);
    else
        pq_footer_data_page_header(&w->header, (int32_t)w->page.len, (int32_t)w->compressed.len,
                                   num_values, enc, stats, legacy);
    m->total_uncompressed += (int64_t)(w->header.len + w->page.len);
    m->total_compressed += (int64_t)(w->header.len + w->compressed.len);
    return emit(w, w->header.data, w->header.len) &&
           emit(w, w->compressed.data, w->compressed.len);
}

/* Appends levels[s0, s1) as V1 level data: 4-byte length, then the hybrid. */
static void put_levels(struct buf *page, const uint8_t *levels, size_t s0, size_t s1, int max)
{
    size_t at = page->len;
    buf_put_u32le(page, 0);
    rle_encode_u8(page, levels + s0, s1 - s0, rle_bit_width((uint32_t)max));
    uint32_t n = (uint32_t)(page->len - at - 4);
    memcpy(page->data + at, &n, 4);
}

/* The same for a flat OPTIONAL column's levels, bits [s0, s1) of its bitmap. */
static void put_level_bits(struct buf *page, const uint8_t *bits, size_t s0, size_t s1)
{
    size_t at = page->len;
    buf_put_u32le(page, 0);
    rle_encode_bits(page, bits, s0, s1 - s0);
    uint32_t n = (uint32_t)(page->len - at - 4);
    memcpy(page->data + at, &n, 4);
}

static void put_plain_values(struct buf *page, const struct column *c, size_t v0, size_t v1)
{
    const struct pq_column_info *info = &c->info;
    if (info->physical == PHYS_BOOLEAN) {
        size_t n = v1 - v0;
        buf_reserve(page, (n + 7) / 8);
        const uint8_t *b = c->values.data + v0;
        for (size_t i = 0; i < n; i += 8) {
            uint8_t byte = 0;
            for (size_t k = 0; k < 8 && i + k < n; k++)
                byte |= (uint8_t)(b[i + k] << k);
            page->data[page->len++] = byte;
        }
    } else if (info->physical == PHYS_BYTE_ARRAY) {
        const uint32_t *off = (const uint32_t *)c->offsets.data;
        buf_reserve(page, (off[v1] - off[v0]) + 4 * (v1 - v0));
        for (size_t v = v0; v < v1; v++) {
            uint32_t len = off[v + 1] - off[v];
            memcpy(page->data + page->len, &len, 4);
            memcpy(page->data + page->len + 4, c->values.data + off[v], len);
            page->len += 4 + len;
        }
    } else {
        size_t width = (size_t)info->value_width;
        buf_append(page, c->values.data + v0 * width, (v1 - v0) * width);
    }
}

static bool write_dictionary_page(struct pq_writer *w, const struct column *c,
                                  struct pq_chunk_meta *m)
{
    const struct dict *d = &c->dict;
    buf_reset(&w->page);
    if (is_byte_array(c)) {
        const uint32_t *off = (const uint32_t *)d->offsets.data;
        buf_reserve(&w->page, d->plain_bytes);
        for (size_t e = 0; e < d->count; e++) {
            uint32_t len = off[e + 1] - off[e];
            buf_put_u32le(&w->page, len);
            buf_append(&w->page, d->values.data + off[e], len);
        }
    } else {
        buf_append(&w->page, d->values.data, d->values.len);
    }
    m->dictionary_page_offset = (int64_t)w->offset;
    return emit_page(w, true, (int32_t)d->count, ENC_PLAIN, NULL, false, m);
}

/* The first slot of row r (rows == slots for flat columns). */
static inline size_t row_slot(const struct column *c, size_t r, size_t nrows)
{
    if (c->info.max_rep == 0)
        return r;
    return r < nrows ? ((const uint32_t *)c->row_slots.data)[r] : c->slots;
}

static bool write_column_chunk(struct pq_writer *w, struct column *c, size_t nrows,
                               struct pq_chunk_meta *m)
{
    const struct pq_column_info *info = &c->info;
    memset(m, 0, sizeof *m);
    m->dictionary_page_offset = -1;
    m->file_offset = (int64_t)w->offset;
    m->num_values = (int64_t)c->slots;
    stats_clear(&m->stats);

    if (c->use_dict) {
        int bw = rle_bit_width(c->dict.count > 0 ? (uint32_t)(c->dict.count - 1) : 0);
        size_t dict_size = c->dict.plain_bytes + (c->nonnull * (size_t)bw + 7) / 8;
        if (c->nonnull == 0 || dict_size >= c->plain_bytes)
            dict_fall_back(c);
    }
    int bw = 0;
    if (c->use_dict) {
        bw = rle_bit_width((uint32_t)(c->dict.count - 1));
        if (!write_dictionary_page(w, c, m))
            return false;
        m->encodings = (1u << ENC_PLAIN) | (1u << ENC_RLE) | (1u << ENC_RLE_DICTIONARY);
    } else {
        m->encodings = 1u << ENC_RLE; /* and each page's values' encoding */
    }
    m->data_page_offset = (int64_t)w->offset;

    bool legacy = pq_legacy_minmax_ok(info);
    size_t fixed = (size_t)info->value_width;
    const uint32_t *off = is_byte_array(c) && !c->use_dict ? (const uint32_t *)c->offsets.data : NULL;
    struct pq_stats page_stats = {0};
    bool no_null = info->max_rep == 0 && c->nonnull == c->slots; /* no level to look at */
    size_t r = 0, v = 0;
    while (r < nrows) {
        size_t r0 = r, s0 = row_slot(c, r, nrows), v0 = v;
        size_t bytes = 0;
        /* Take rows until the page is full. */
        while (r < nrows && r - r0 < w->opts.page_rows && bytes < w->opts.page_bytes) {
            size_t s_end = row_slot(c, r + 1, nrows);
            for (size_t s = row_slot(c, r, nrows); s < s_end; s++) {
                bytes += (info->max_def > 0) + (info->max_rep > 0);
                if (no_null || slot_has_value(c, s)) {
                    if (c->use_dict)
                        bytes += (size_t)(bw + 7) / 8;
                    else
                        bytes += off ? 4 + off[v + 1] - off[v] : fixed;
                    v++;
                }
            }
            r++;
        }
        size_t s1 = row_slot(c, r, nrows), v1 = v;

        buf_reset(&w->page);
        if (info->max_rep > 0)
            put_levels(&w->page, c->rep.data, s0, s1, info->max_rep);
        if (has_bitmap(c))
            put_level_bits(&w->page, c->valid.data, s0, s1);
        else if (info->max_def > 0)
            put_levels(&w->page, c->def.data, s0, s1, info->max_def);
        enum pq_encoding enc = ENC_PLAIN;
        if (c->use_dict) {
            buf_push(&w->page, (uint8_t)bw);
            rle_encode_u32(&w->page, (const uint32_t *)c->indices.data + v0, v1 - v0, bw);
            enc = ENC_RLE_DICTIONARY;
        } else if (info->physical == PHYS_INT32 || info->physical == PHYS_INT64) {
            /* Integers without a dictionary (offsets, times, LSNs, ids) are
             * often steps of a sequence: DELTA_BINARY_PACKED, unless it does
             * not come out smaller than PLAIN. */
            size_t at = w->page.len;
            delta_encode(&w->page, c->values.data + v0 * fixed, v1 - v0, (int)fixed);
            enc = ENC_DELTA_BINARY_PACKED;
            if (w->page.len - at >= (v1 - v0) * fixed) {
                w->page.len = at;
                put_plain_values(&w->page, c, v0, v1);
                enc = ENC_PLAIN;
            }
        } else {
            put_plain_values(&w->page, c, v0, v1);
        }
        m->encodings |= 1u << enc;
        stats_clear(&page_stats);
        page_stats.null_count = (int64_t)((s1 - s0) - (v1 - v0));
        page_minmax(c, v0, v1, &page_stats);
        if (!emit_page(w, false, (int32_t)(s1 - s0), enc, &page_stats, legacy, m)) {
            stats_free(&page_stats);
            return false;
        }
        m->data_pages++;
        m->delta_pages += enc == ENC_DELTA_BINARY_PACKED;
        stats_merge(info, &m->stats, &page_stats);
    }
    stats_free(&page_stats);
    if (m->stats.unknown)
        m->stats.has_minmax = false;
    return true;
}

static bool flush_row_group(struct pq_writer *w)
{
    if (w->rows_in_group == 0)
        return true;
    if (!start_file(w))
        return false;
    w->groups = xrealloc(w->groups, (w->ngroups + 1) * sizeof *w->groups);
    struct pq_row_group_meta *rg = &w->groups[w->ngroups++];
    memset(rg, 0, sizeof *rg);
    rg->chunks = xcalloc(w->ncols, sizeof *rg->chunks);
    rg->num_rows = (int64_t)w->rows_in_group;
    rg->file_offset = (int64_t)w->offset;
    for (size_t i = 0; i < w->ncols; i++) {
        struct column *c = &w->cols[i];
        if (!write_column_chunk(w, c, w->rows_in_group, &rg->chunks[i]))
            return false;
        rg->total_byte_size += rg->chunks[i].total_uncompressed;
        rg->total_compressed += rg->chunks[i].total_compressed;
        column_reset(c, &w->opts);
    }
    w->rows_in_group = 0;
    return true;
}

/* ---------- rows, lifecycle ---------- */

size_t pq_writer_buffered_bytes(const struct pq_writer *w)
{
    size_t total = 0;
    for (size_t i = 0; i < w->ncols; i++)
        total += w->cols[i].buffered;
    return total;
}

bool pq_end_row(struct pq_writer *w)
{
    if (w->failed)
        return false;
    bool byte_array_full = false;
    for (size_t i = 0; i < w->ncols; i++) {
        struct column *c = &w->cols[i];
        if (c->state == IN_LIST)
            return fail(w, "row %llu: the list in column '%s' is not ended",
                        (unsigned long long)w->rows_total, c->info.spec.name);
        if (c->state != HAS_VALUE)
            return fail(w, "row %llu: column '%s' has no value",
                        (unsigned long long)w->rows_total, c->info.spec.name);
        c->state = NEEDS_VALUE;
        if (c->values.len >= BYTE_ARRAY_FLUSH_AT || c->dict.values.len >= BYTE_ARRAY_FLUSH_AT)
            byte_array_full = true;
    }
    w->rows_total++;
    w->rows_in_group++;
    if (byte_array_full || pq_writer_buffered_bytes(w) >= w->opts.row_group_bytes)
        return flush_row_group(w);
    return true;
}

struct pq_writer *pq_writer_new(const struct pq_column_spec *columns, size_t column_count,
                                const struct pq_options *opts, pq_sink_fn sink, void *sink_ctx,
                                const char **error)
{
    if (column_count == 0) {
        *error = "a Parquet schema needs at least one column";
        return NULL;
    }
    for (size_t i = 0; i < column_count; i++) {
        if (columns[i].name == NULL || columns[i].name[0] == '\0') {
            *error = "a column name is empty";
            return NULL;
        }
        if (!utf8_valid(columns[i].name, strlen(columns[i].name), NULL)) {
            *error = "a column name is not valid UTF-8";
            return NULL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(columns[i].name, columns[j].name) == 0) {
                *error = "two columns have the same name";
                return NULL;
            }
        }
    }
    struct pq_writer *w = xcalloc(1, sizeof *w);
    if (opts != NULL)
        w->opts = *opts;
    else
        pq_options_default(&w->opts);
    if (w->opts.page_rows == 0)
        w->opts.page_rows = 20000;
    if (w->opts.page_bytes == 0)
        w->opts.page_bytes = (size_t)1 << 20;
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    w->ncols = column_count;
    w->cols = xcalloc(column_count, sizeof *w->cols);
    for (size_t i = 0; i < column_count; i++) {
        struct column *c = &w->cols[i];
        c->info.spec = columns[i];
        const char *why = describe_column(&c->info);
        c->info.spec.name = xstrdup(columns[i].name);
        if (why != NULL) {
            *error = why;
            w->ncols = i + 1;
            pq_writer_free(w);
            return NULL;
        }
        column_reset(c, &w->opts);
    }
    return w;
}

void pq_writer_add_metadata(struct pq_writer *w, const char *key, const char *value)
{
    w->kv = xrealloc(w->kv, (w->nkv + 1) * sizeof *w->kv);
    w->kv[w->nkv].key = xstrdup(key);
    w->kv[w->nkv].value = xstrdup(value);
    w->nkv++;
}

bool pq_writer_close(struct pq_writer *w)
{
    if (w->failed)
        return false;
    for (size_t i = 0; i < w->ncols; i++)
        if (w->cols[i].state != NEEDS_VALUE)
            return fail(w, "pq_writer_close in the middle of row %llu",
                        (unsigned long long)w->rows_total);
    if (!flush_row_group(w) || !start_file(w))
        return false;
    struct pq_column_info *infos = xmalloc(w->ncols * sizeof *infos);
    for (size_t i = 0; i < w->ncols; i++)
        infos[i] = w->cols[i].info;
    struct buf footer = {0};
    pq_footer_file_metadata(&footer, infos, w->ncols, w->groups, w->ngroups,
                            (int64_t)w->rows_total, w->opts.codec, w->kv, w->nkv,
                            version_created_by());
    free(infos);
    uint8_t tail[8];
    uint32_t n = (uint32_t)footer.len;
    memcpy(tail, &n, 4);
    memcpy(tail + 4, "PAR1", 4);
    bool ok = emit(w, footer.data, footer.len) && emit(w, tail, 8);
    buf_free(&footer);
    return ok;
}

uint64_t pq_writer_rows(const struct pq_writer *w)
{
    return w->rows_total;
}

uint64_t pq_writer_bytes_written(const struct pq_writer *w)
{
    return w->offset;
}

void pq_writer_free(struct pq_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->ncols; i++)
        column_free(&w->cols[i]);
    free(w->cols);
    for (size_t g = 0; g < w->ngroups; g++) {
        for (size_t i = 0; i < w->ncols; i++)
            stats_free(&w->groups[g].chunks[i].stats);
        free(w->groups[g].chunks);
    }
    free(w->groups);
    for (size_t i = 0; i < w->nkv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].value);
    }
    free(w->kv);
    buf_free(&w->page);
    buf_free(&w->compressed);
    buf_free(&w->header);
    free(w);
}
