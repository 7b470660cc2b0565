/* thrift_compact.c -- see thrift_compact.h. */
#include "thrift_compact.h"

#include <assert.h>
#include <string.h>

void tc_init(struct thrift_writer *w, struct buf *out)
{
    w->out = out;
    w->depth = 0;
    w->last_id[0] = 0;
}

void tc_put_zigzag32(struct buf *b, int32_t v)
{
    buf_put_uvarint(b, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void tc_put_zigzag64(struct buf *b, int64_t v)
{
    buf_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void field_header(struct thrift_writer *w, int16_t id, enum thrift_type type)
{
    int16_t *last = &w->last_id[w->depth];
    assert(id > *last && "thrift fields must be written in increasing id order");
    int delta = id - *last;
    if (delta >= 1 && delta <= 15) {
        buf_push(w->out, (uint8_t)((delta << 4) | type));
    } else {
        buf_push(w->out, (uint8_t)type);
        tc_put_zigzag32(w->out, id);
    }
    *last = id;
}

void tc_struct_begin(struct thrift_writer *w)
{
    assert(w->depth + 1 < THRIFT_MAX_DEPTH);
    w->last_id[++w->depth] = 0;
}

void tc_struct_end(struct thrift_writer *w)
{
    assert(w->depth > 0);
    buf_push(w->out, 0);
    w->depth--;
}

void tc_field_bool(struct thrift_writer *w, int16_t id, bool v)
{
    field_header(w, id, v ? TC_BOOL_TRUE : TC_BOOL_FALSE);
}

void tc_field_i8(struct thrift_writer *w, int16_t id, int8_t v)
{
    field_header(w, id, TC_I8);
    buf_push(w->out, (uint8_t)v);
}

void tc_field_i16(struct thrift_writer *w, int16_t id, int16_t v)
{
    field_header(w, id, TC_I16);
    tc_put_zigzag32(w->out, v);
}

void tc_field_i32(struct thrift_writer *w, int16_t id, int32_t v)
{
    field_header(w, id, TC_I32);
    tc_put_zigzag32(w->out, v);
}

void tc_field_i64(struct thrift_writer *w, int16_t id, int64_t v)
{
    field_header(w, id, TC_I64);
    tc_put_zigzag64(w->out, v);
}

void tc_field_binary(struct thrift_writer *w, int16_t id, const void *data, size_t len)
{
    field_header(w, id, TC_BINARY);
    buf_put_uvarint(w->out, len);
    buf_append(w->out, data, len);
}

void tc_field_string(struct thrift_writer *w, int16_t id, const char *s)
{
    tc_field_binary(w, id, s, strlen(s));
}

void tc_field_struct_begin(struct thrift_writer *w, int16_t id)
{
    field_header(w, id, TC_STRUCT);
    tc_struct_begin(w);
}

void tc_field_list(struct thrift_writer *w, int16_t id, enum thrift_type elem, size_t count)
{
    field_header(w, id, TC_LIST);
    if (count < 15) {
        buf_push(w->out, (uint8_t)((count << 4) | elem));
    } else {
        buf_push(w->out, (uint8_t)(0xF0 | elem));
        buf_put_uvarint(w->out, count);
    }
}

void tc_elem_i32(struct thrift_writer *w, int32_t v)
{
    tc_put_zigzag32(w->out, v);
}

void tc_elem_string(struct thrift_writer *w, const char *s)
{
    size_t n = strlen(s);
    buf_put_uvarint(w->out, n);
    buf_append(w->out, s, n);
}
