/* thrift_compact.h -- a writer of the Thrift compact protocol, the encoding
 * of Parquet's page headers and footer.
 *
 * Contract
 * - Output is appended to a struct buf. Field ids are written as deltas from
 *   the previous field id of the same struct (1..15 fit the type byte), so
 *   fields must be written in increasing id order within a struct; each
 *   nested struct starts its own delta chain (a stack of THRIFT_MAX_DEPTH).
 * - i16/i32/i64 are zigzag varints; a bool field carries its value in the
 *   type nibble; i8 is one raw byte; binary is a varint length and the bytes.
 * - Lists: tc_field_list() writes the header; the caller then writes `count`
 *   elements with tc_elem_*() or, for structs, tc_struct_begin()/tc_struct_end().
 */
#ifndef CDCW_THRIFT_COMPACT_H
#define CDCW_THRIFT_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define THRIFT_MAX_DEPTH 16

enum thrift_type {
    TC_BOOL_TRUE = 1,
    TC_BOOL_FALSE = 2,
    TC_I8 = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12,
};

struct thrift_writer {
    struct buf *out;
    int16_t last_id[THRIFT_MAX_DEPTH];
    int depth;
};

void tc_init(struct thrift_writer *w, struct buf *out);

/* A struct: top-level (the message itself) or a list element. */
void tc_struct_begin(struct thrift_writer *w);
void tc_struct_end(struct thrift_writer *w); /* writes the stop byte */

void tc_field_bool(struct thrift_writer *w, int16_t id, bool v);
void tc_field_i8(struct thrift_writer *w, int16_t id, int8_t v);
void tc_field_i16(struct thrift_writer *w, int16_t id, int16_t v);
void tc_field_i32(struct thrift_writer *w, int16_t id, int32_t v);
void tc_field_i64(struct thrift_writer *w, int16_t id, int64_t v);
void tc_field_binary(struct thrift_writer *w, int16_t id, const void *data, size_t len);
void tc_field_string(struct thrift_writer *w, int16_t id, const char *s);
/* A struct-valued field: writes the header and begins the nested struct. */
void tc_field_struct_begin(struct thrift_writer *w, int16_t id);
void tc_field_list(struct thrift_writer *w, int16_t id, enum thrift_type elem, size_t count);

void tc_elem_i32(struct thrift_writer *w, int32_t v);
void tc_elem_string(struct thrift_writer *w, const char *s);

/* Zigzag varint primitives (exposed for tests). */
void tc_put_zigzag32(struct buf *b, int32_t v);
void tc_put_zigzag64(struct buf *b, int64_t v);

#endif
