/* buf.h -- a growable byte buffer.
 *
 * Contract: a zeroed struct buf is an empty buffer. Appends grow it
 * geometrically (allocation failure aborts, see xalloc.h); data is valid until
 * the next append or buf_free(). buf_reset() empties it and keeps the memory.
 */
#ifndef CDCW_BUF_H
#define CDCW_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

static inline void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static inline void buf_append(struct buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static inline void buf_push(struct buf *b, uint8_t byte)
{
    buf_reserve(b, 1);
    b->data[b->len++] = byte;
}

static inline void buf_put_u32le(struct buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, le, 4);
}

/* Unsigned LEB128 varint, as Thrift compact and the RLE hybrid use. */
static inline void buf_put_uvarint(struct buf *b, uint64_t v)
{
    buf_reserve(b, 10);
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

static inline void buf_reset(struct buf *b)
{
    b->len = 0;
}

static inline void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#endif
