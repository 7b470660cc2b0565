/* rle.c -- see rle.h.
 *
 * The encoder sees the whole array at once (a page's levels or indices), so
 * it looks ahead for runs instead of keeping a streaming state machine:
 *   - a run of >= 8 equal values is written as one RLE run;
 *   - otherwise values are taken 8 at a time into a bit-packed run, which
 *     ends where a run of >= 8 equal values begins at a group boundary.
 */
#include "rle.h"

int rle_bit_width(uint32_t max_value)
{
    int w = 1;
    while (w < 32 && (max_value >> w) != 0)
        w++;
    return w;
}

static void put_rle_run(struct buf *out, uint32_t value, size_t count, int bit_width)
{
    buf_put_uvarint(out, (uint64_t)count << 1);
    int bytes = (bit_width + 7) / 8;
    for (int i = 0; i < bytes; i++)
        buf_push(out, (uint8_t)(value >> (8 * i)));
}

#define DEFINE_RLE_ENCODER(NAME, T)                                                            \
    static size_t NAME##_run_length(const T *v, size_t i, size_t n)                            \
    {                                                                                          \
        size_t j = i + 1;                                                                      \
        while (j < n && v[j] == v[i])                                                          \
            j++;                                                                               \
        return j - i;                                                                          \
    }                                                                                          \
                                                                                               \
    /* Bit-packs v[start, end) padded to a multiple of 8 values. */                            \
    static void NAME##_put_packed(struct buf *out, const T *v, size_t start, size_t end,       \
                                  int bit_width)                                               \
    {                                                                                          \
        size_t groups = (end - start + 7) / 8;                                                 \
        buf_put_uvarint(out, ((uint64_t)groups << 1) | 1);                                     \
        buf_reserve(out, groups * (size_t)bit_width);                                          \
        uint64_t acc = 0;                                                                      \
        int bits = 0;                                                                          \
        for (size_t i = start; i < start + groups * 8; i++) {                                  \
            uint64_t x = i < end ? (uint64_t)v[i] : 0;                                         \
            acc |= x << bits;                                                                  \
            bits += bit_width;                                                                 \
            while (bits >= 8) {                                                                \
                out->data[out->len++] = (uint8_t)acc;                                          \
                acc >>= 8;                                                                     \
                bits -= 8;                                                                     \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    void rle_encode_##NAME(struct buf *out, const T *v, size_t n, int bit_width)               \
    {                                                                                          \
        size_t i = 0;                                                                          \
        while (i < n) {                                                                        \
            size_t run = NAME##_run_length(v, i, n);                                           \
            if (run >= 8) {                                                                    \
                put_rle_run(out, (uint32_t)v[i], run, bit_width);                              \
                i += run;                                                                      \
                continue;                                                                      \
            }                                                                                  \
            size_t start = i;                                                                  \
            for (;;) {                                                                         \
                i = i + 8 < n ? i + 8 : n;                                                     \
                if (i >= n || NAME##_run_length(v, i, n) >= 8)                                 \
                    break;                                                                     \
            }                                                                                  \
            NAME##_put_packed(out, v, start, i, bit_width);                                    \
        }                                                                                      \
    }

DEFINE_RLE_ENCODER(u32, uint32_t)
DEFINE_RLE_ENCODER(u8, uint8_t)
