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

/* ---------- levels of bit width 1 from a bitmap ---------- */

static inline unsigned bit_at(const uint8_t *bits, size_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1u;
}

/* How many bits from i on (before end) equal bit i: bit by bit up to a byte
 * boundary, then whole bytes of 0x00 or 0xFF, then bit by bit again. */
static size_t bits_run_length(const uint8_t *bits, size_t i, size_t end)
{
    unsigned v = bit_at(bits, i);
    uint8_t same = v ? 0xFF : 0x00;
    size_t j = i + 1;
    while (j < end && (j & 7) != 0 && bit_at(bits, j) == v)
        j++;
    if ((j & 7) == 0)
        while (j + 8 <= end && bits[j >> 3] == same)
            j += 8;
    while (j < end && bit_at(bits, j) == v)
        j++;
    return j - i;
}

/* The same algorithm as DEFINE_RLE_ENCODER's, on positions [start, end). */
void rle_encode_bits(struct buf *out, const uint8_t *bits, size_t start, size_t n)
{
    size_t end = start + n, i = start;
    while (i < end) {
        size_t run = bits_run_length(bits, i, end);
        if (run >= 8) {
            put_rle_run(out, bit_at(bits, i), run, 1);
            i += run;
            continue;
        }
        size_t from = i;
        for (;;) {
            i = i + 8 < end ? i + 8 : end;
            if (i >= end || bits_run_length(bits, i, end) >= 8)
                break;
        }
        /* Bit-packed: 8 levels of 1 bit make one byte, LSB first, the last zero-padded. */
        size_t groups = (i - from + 7) / 8;
        buf_put_uvarint(out, ((uint64_t)groups << 1) | 1);
        buf_reserve(out, groups);
        for (size_t g = 0; g < groups; g++) {
            uint8_t byte = 0;
            for (size_t k = 0; k < 8 && from + 8 * g + k < i; k++)
                byte |= (uint8_t)(bit_at(bits, from + 8 * g + k) << k);
            out->data[out->len++] = byte;
        }
    }
}
