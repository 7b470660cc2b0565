/* parquet_footer.c -- Parquet's Thrift structures: page headers and the
 * FileMetaData footer. Field ids are those of parquet-format's parquet.thrift. */
#include "parquet_internal.h"
#include "thrift_compact.h"

/* ConvertedType values. */
enum {
    CT_UTF8 = 0,
    CT_LIST = 3,
    CT_ENUM = 4,
    CT_DECIMAL = 5,
    CT_DATE = 6,
    CT_TIME_MILLIS = 7,
    CT_TIME_MICROS = 8,
    CT_TIMESTAMP_MILLIS = 9,
    CT_TIMESTAMP_MICROS = 10,
    CT_INT_8 = 15,
    CT_INT_16 = 16,
    CT_INT_32 = 17,
    CT_INT_64 = 18,
    CT_JSON = 19,
};

/* FieldRepetitionType values. */
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };

/* PageType values. */
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };

bool pq_legacy_minmax_ok(const struct pq_column_info *col)
{
    /* The deprecated fields were compared as signed values by old readers:
     * right for numbers and booleans, wrong for bytes. */
    return col->order == ORDER_SIGNED || col->order == ORDER_FLOAT;
}

/* Statistics struct: 1 max, 2 min (deprecated), 3 null_count, 5 max_value, 6 min_value. */
static void write_statistics(struct thrift_writer *t, int16_t field, const struct pq_stats *s,
                             bool legacy)
{
    tc_field_struct_begin(t, field);
    if (s->has_minmax && legacy) {
        tc_field_binary(t, 1, s->max.data, s->max.len);
        tc_field_binary(t, 2, s->min.data, s->min.len);
    }
    tc_field_i64(t, 3, s->null_count);
    if (s->has_minmax) {
        tc_field_binary(t, 5, s->max.data, s->max.len);
        tc_field_binary(t, 6, s->min.data, s->min.len);
    }
    tc_struct_end(t);
}

void pq_footer_data_page_header(struct buf *out, int32_t uncompressed, int32_t compressed,
                                int32_t num_values, enum pq_encoding encoding,
                                const struct pq_stats *stats, bool write_legacy_minmax)
{
    struct thrift_writer t;
    tc_init(&t, out);
    tc_struct_begin(&t);
    tc_field_i32(&t, 1, PAGE_DATA);
    tc_field_i32(&t, 2, uncompressed);
    tc_field_i32(&t, 3, compressed);
    tc_field_struct_begin(&t, 5); /* DataPageHeader */
    tc_field_i32(&t, 1, num_values);
    tc_field_i32(&t, 2, encoding);
    tc_field_i32(&t, 3, ENC_RLE); /* definition levels */
    tc_field_i32(&t, 4, ENC_RLE); /* repetition levels */
    if (stats != NULL)
        write_statistics(&t, 5, stats, write_legacy_minmax);
    tc_struct_end(&t);
    tc_struct_end(&t);
}

void pq_footer_dictionary_page_header(struct buf *out, int32_t uncompressed, int32_t compressed,
                                      int32_t num_values)
{
    struct thrift_writer t;
    tc_init(&t, out);
    tc_struct_begin(&t);
    tc_field_i32(&t, 1, PAGE_DICTIONARY);
    tc_field_i32(&t, 2, uncompressed);
    tc_field_i32(&t, 3, compressed);
    tc_field_struct_begin(&t, 7); /* DictionaryPageHeader */
    tc_field_i32(&t, 1, num_values);
    tc_field_i32(&t, 2, ENC_PLAIN);
    tc_struct_end(&t);
    tc_struct_end(&t);
}

/* LogicalType union member for a leaf, or 0 for none; fills *converted (-1: none). */
static void write_leaf_types(struct thrift_writer *t, const struct pq_column_info *c)
{
    const struct pq_column_spec *s = &c->spec;
    int converted = -1;
    switch (s->type) {
    case PQ_INT8: converted = CT_INT_8; break;
    case PQ_INT16: converted = CT_INT_16; break;
    case PQ_INT32: converted = CT_INT_32; break;
    case PQ_INT64: converted = CT_INT_64; break;
    case PQ_STRING: converted = CT_UTF8; break;
    case PQ_JSON: converted = CT_JSON; break;
    case PQ_ENUM: converted = CT_ENUM; break;
    case PQ_DECIMAL: converted = CT_DECIMAL; break;
    case PQ_DATE: converted = CT_DATE; break;
    /* The legacy time types mean "adjusted to UTC"; local times have none. */
    case PQ_TIME_MILLIS: converted = s->adjusted_to_utc ? CT_TIME_MILLIS : -1; break;
    case PQ_TIME_MICROS: converted = s->adjusted_to_utc ? CT_TIME_MICROS : -1; break;
    case PQ_TIMESTAMP_MILLIS: converted = s->adjusted_to_utc ? CT_TIMESTAMP_MILLIS : -1; break;
    case PQ_TIMESTAMP_MICROS: converted = s->adjusted_to_utc ? CT_TIMESTAMP_MICROS : -1; break;
    default: break;
    }
    if (converted >= 0)
        tc_field_i32(t, 6, converted);
    if (s->type == PQ_DECIMAL) {
        tc_field_i32(t, 7, s->scale);
        tc_field_i32(t, 8, s->precision);
    }

    /* LogicalType (field 10), a union: exactly one member set. */
    switch (s->type) {
    case PQ_BOOLEAN:
    case PQ_FLOAT:
    case PQ_DOUBLE:
    case PQ_BINARY:
        return; /* no annotation */
    default:
        break;
    }
    tc_field_struct_begin(t, 10);
    switch (s->type) {
    case PQ_STRING:
        tc_field_struct_begin(t, 1);
        tc_struct_end(t);
        break;
    case PQ_ENUM:
        tc_field_struct_begin(t, 4);
        tc_struct_end(t);
        break;
    case PQ_DECIMAL:
        tc_field_struct_begin(t, 5);
        tc_field_i32(t, 1, s->scale);
        tc_field_i32(t, 2, s->precision);
        tc_struct_end(t);
        break;
    case PQ_DATE:
        tc_field_struct_begin(t, 6);
        tc_struct_end(t);
        break;
    case PQ_TIME_MILLIS:
    case PQ_TIME_MICROS:
    case PQ_TIMESTAMP_MILLIS:
    case PQ_TIMESTAMP_MICROS: {
        bool is_time = s->type == PQ_TIME_MILLIS || s->type == PQ_TIME_MICROS;
        bool millis = s->type == PQ_TIME_MILLIS || s->type == PQ_TIMESTAMP_MILLIS;
        tc_field_struct_begin(t, is_time ? 7 : 8);
        tc_field_bool(t, 1, s->adjusted_to_utc);
        tc_field_struct_begin(t, 2); /* TimeUnit union */
        tc_field_struct_begin(t, millis ? 1 : 2);
        tc_struct_end(t);
        tc_struct_end(t);
        tc_struct_end(t);
        break;
    }
    case PQ_INT8:
    case PQ_INT16:
    case PQ_INT32:
    case PQ_INT64: {
        int bits = s->type == PQ_INT8 ? 8 : s->type == PQ_INT16 ? 16 : s->type == PQ_INT32 ? 32 : 64;
        tc_field_struct_begin(t, 10);
        tc_field_i8(t, 1, (int8_t)bits);
        tc_field_bool(t, 2, true);
        tc_struct_end(t);
        break;
    }
    case PQ_JSON:
        tc_field_struct_begin(t, 12);
        tc_struct_end(t);
        break;
    case PQ_UUID:
        tc_field_struct_begin(t, 14);
        tc_struct_end(t);
        break;
    default:
        break;
    }
    tc_struct_end(t);
}

static void write_schema(struct thrift_writer *t, const struct pq_column_info *cols, size_t ncols)
{
    size_t elements = 1;
    for (size_t i = 0; i < ncols; i++)
        elements += cols[i].spec.list ? 3 : 1;
    tc_field_list(t, 2, TC_STRUCT, elements);

    tc_struct_begin(t); /* root */
    tc_field_i32(t, 3, REP_REQUIRED);
    tc_field_string(t, 4, "schema");
    tc_field_i32(t, 5, (int32_t)ncols);
    tc_struct_end(t);

    for (size_t i = 0; i < ncols; i++) {
        const struct pq_column_info *c = &cols[i];
        int leaf_rep = c->spec.optional ? REP_OPTIONAL : REP_REQUIRED;
        const char *leaf_name = c->spec.name;
        if (c->spec.list) {
            tc_struct_begin(t); /* <name> (LIST) */
            tc_field_i32(t, 3, c->spec.optional ? REP_OPTIONAL : REP_REQUIRED);
            tc_field_string(t, 4, c->spec.name);
            tc_field_i32(t, 5, 1);
            tc_field_i32(t, 6, CT_LIST);
            tc_field_struct_begin(t, 10);
            tc_field_struct_begin(t, 3);
            tc_struct_end(t);
            tc_struct_end(t);
            tc_struct_end(t);

            tc_struct_begin(t); /* repeated group list */
            tc_field_i32(t, 3, REP_REPEATED);
            tc_field_string(t, 4, "list");
            tc_field_i32(t, 5, 1);
            tc_struct_end(t);
            leaf_rep = REP_OPTIONAL;
            leaf_name = "element";
        }
        tc_struct_begin(t);
        tc_field_i32(t, 1, c->physical);
        if (c->physical == PHYS_FIXED)
            tc_field_i32(t, 2, c->type_length);
        tc_field_i32(t, 3, leaf_rep);
        tc_field_string(t, 4, leaf_name);
        write_leaf_types(t, c);
        tc_struct_end(t);
    }
}

/* One PageEncodingStats: count pages of a type in an encoding. */
static void encoding_stats_entry(struct thrift_writer *t, int32_t page_type, enum pq_encoding enc, int64_t count)
{
    tc_struct_begin(t);
    tc_field_i32(t, 1, page_type);
    tc_field_i32(t, 2, enc);
    tc_field_i32(t, 3, (int32_t)count);
    tc_struct_end(t);
}

static void write_column_chunk(struct thrift_writer *t, const struct pq_column_info *c,
                               const struct pq_chunk_meta *m, enum pq_codec codec)
{
    tc_struct_begin(t);
    tc_field_i64(t, 2, m->file_offset);
    tc_field_struct_begin(t, 3); /* ColumnMetaData */
    tc_field_i32(t, 1, c->physical);
    int nenc = 0;
    for (int e = 0; e < 16; e++)
        nenc += (m->encodings >> e) & 1;
    tc_field_list(t, 2, TC_I32, (size_t)nenc);
    for (int e = 0; e < 16; e++)
        if ((m->encodings >> e) & 1)
            tc_elem_i32(t, e);
    tc_field_list(t, 3, TC_BINARY, c->spec.list ? 3 : 1);
    tc_elem_string(t, c->spec.name);
    if (c->spec.list) {
        tc_elem_string(t, "list");
        tc_elem_string(t, "element");
    }
    tc_field_i32(t, 4, codec);
    tc_field_i64(t, 5, m->num_values);
    tc_field_i64(t, 6, m->total_uncompressed);
    tc_field_i64(t, 7, m->total_compressed);
    tc_field_i64(t, 9, m->data_page_offset);
    if (m->dictionary_page_offset >= 0)
        tc_field_i64(t, 11, m->dictionary_page_offset);
    write_statistics(t, 12, &m->stats, pq_legacy_minmax_ok(c));
    /* PageEncodingStats: how many pages of each kind, which Spark's
     * dictionary filtering trusts. */
    bool dict = m->dictionary_page_offset >= 0;
    int64_t plain = dict ? 0 : m->data_pages - m->delta_pages;
    bool plain_entry = !dict && (plain > 0 || m->delta_pages == 0);
    tc_field_list(t, 13, TC_STRUCT, 2 * dict + plain_entry + (m->delta_pages > 0));
    if (dict) {
        encoding_stats_entry(t, PAGE_DICTIONARY, ENC_PLAIN, 1);
        encoding_stats_entry(t, PAGE_DATA, ENC_RLE_DICTIONARY, m->data_pages);
    }
    if (plain_entry)
        encoding_stats_entry(t, PAGE_DATA, ENC_PLAIN, plain);
    if (m->delta_pages > 0)
        encoding_stats_entry(t, PAGE_DATA, ENC_DELTA_BINARY_PACKED, m->delta_pages);
    tc_struct_end(t); /* ColumnMetaData */
    tc_struct_end(t); /* ColumnChunk */
}

void pq_footer_file_metadata(struct buf *out, const struct pq_column_info *cols, size_t ncols,
                             const struct pq_row_group_meta *groups, size_t ngroups,
                             int64_t num_rows, enum pq_codec codec, const struct pq_kv *kv,
                             size_t nkv, const char *created_by)
{
    struct thrift_writer t;
    tc_init(&t, out);
    tc_struct_begin(&t);
    tc_field_i32(&t, 1, 2); /* version */
    write_schema(&t, cols, ncols);
    tc_field_i64(&t, 3, num_rows);
    tc_field_list(&t, 4, TC_STRUCT, ngroups);
    for (size_t g = 0; g < ngroups; g++) {
        const struct pq_row_group_meta *rg = &groups[g];
        tc_struct_begin(&t);
        tc_field_list(&t, 1, TC_STRUCT, ncols);
        for (size_t c = 0; c < ncols; c++)
            write_column_chunk(&t, &cols[c], &rg->chunks[c], codec);
        tc_field_i64(&t, 2, rg->total_byte_size);
        tc_field_i64(&t, 3, rg->num_rows);
        tc_field_i64(&t, 5, rg->file_offset);
        tc_field_i64(&t, 6, rg->total_compressed);
        tc_field_i16(&t, 7, (int16_t)g);
        tc_struct_end(&t);
    }
    if (nkv > 0) {
        tc_field_list(&t, 5, TC_STRUCT, nkv);
        for (size_t i = 0; i < nkv; i++) {
            tc_struct_begin(&t);
            tc_field_string(&t, 1, kv[i].key);
            tc_field_string(&t, 2, kv[i].value);
            tc_struct_end(&t);
        }
    }
    tc_field_string(&t, 6, created_by);
    tc_field_list(&t, 7, TC_STRUCT, ncols);
    for (size_t i = 0; i < ncols; i++) {
        tc_struct_begin(&t); /* ColumnOrder union */
        tc_field_struct_begin(&t, 1); /* TYPE_ORDER */
        tc_struct_end(&t);
        tc_struct_end(&t);
    }
    tc_struct_end(&t);
}
