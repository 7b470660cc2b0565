/* parquet_internal.h -- what the Parquet writer's files share; not a public
 * interface (see parquet.h).
 *
 * parquet_writer.c  buffers values, encodes pages, drives row groups
 * parquet_footer.c  Thrift structures: page headers, schema, footer
 * page_compress.c   the page codecs
 */
#ifndef CDCW_PARQUET_INTERNAL_H
#define CDCW_PARQUET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "parquet.h"

/* Physical types, numbered as in parquet.thrift. */
enum pq_physical {
    PHYS_BOOLEAN = 0,
    PHYS_INT32 = 1,
    PHYS_INT64 = 2,
    PHYS_FLOAT = 4,
    PHYS_DOUBLE = 5,
    PHYS_BYTE_ARRAY = 6,
    PHYS_FIXED = 7,
};

/* Encodings, numbered as in parquet.thrift. */
enum pq_encoding {
    ENC_PLAIN = 0,
    ENC_RLE = 3,
    ENC_DELTA_BINARY_PACKED = 5,
    ENC_RLE_DICTIONARY = 8,
};

/* The sort order statistics follow. */
enum pq_order {
    ORDER_SIGNED,          /* integers, booleans */
    ORDER_FLOAT,           /* IEEE 754 without NaN */
    ORDER_UNSIGNED_BYTES,  /* strings, binary, UUID */
    ORDER_SIGNED_BYTES,    /* big-endian two's complement decimals */
};

/* A column as the writer sees it: the user's spec plus derived facts. */
struct pq_column_info {
    struct pq_column_spec spec; /* name is owned */
    enum pq_physical physical;
    int type_length;            /* FIXED_LEN_BYTE_ARRAY width, else 0 */
    int value_width;            /* bytes per buffered fixed-width value; 0 for BYTE_ARRAY */
    int max_def, max_rep;
    enum pq_order order;
};

/* Min/max/null count of a page or a column chunk. Values are PLAIN-encoded
 * bytes (little-endian numbers, raw byte arrays). */
struct pq_stats {
    int64_t null_count;
    bool has_minmax;
    bool unknown; /* a value too long to keep: min/max are not written */
    struct buf min, max;
};

/* What the footer needs of one written column chunk. */
struct pq_chunk_meta {
    int64_t file_offset;
    int64_t num_values;
    int64_t total_uncompressed;
    int64_t total_compressed;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1: none */
    int64_t data_pages;
    int64_t delta_pages;            /* of data_pages, DELTA_BINARY_PACKED */
    unsigned encodings;             /* bit set of enum pq_encoding */
    struct pq_stats stats;
};

struct pq_row_group_meta {
    struct pq_chunk_meta *chunks; /* one per column */
    int64_t num_rows;
    int64_t total_byte_size;      /* uncompressed */
    int64_t total_compressed;
    int64_t file_offset;
};

struct pq_kv {
    char *key, *value;
};

/* Page headers. */
void pq_footer_data_page_header(struct buf *out, int32_t uncompressed, int32_t compressed,
                                int32_t num_values, enum pq_encoding encoding,
                                const struct pq_stats *stats, bool write_legacy_minmax);
void pq_footer_dictionary_page_header(struct buf *out, int32_t uncompressed, int32_t compressed,
                                      int32_t num_values);

/* The whole FileMetaData struct. */
void pq_footer_file_metadata(struct buf *out, const struct pq_column_info *cols, size_t ncols,
                             const struct pq_row_group_meta *groups, size_t ngroups,
                             int64_t num_rows, enum pq_codec codec, const struct pq_kv *kv,
                             size_t nkv, const char *created_by);

/* Whether the deprecated Statistics.min/max may be written for this column
 * (only where the legacy signed order is the right one). */
bool pq_legacy_minmax_ok(const struct pq_column_info *col);

/* Compresses in[0..n) into out (replacing its content). */
bool pq_compress(enum pq_codec codec, int level, const uint8_t *in, size_t n, struct buf *out,
                 const char **error);

#endif
