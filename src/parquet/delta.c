/* delta.c -- see delta.h.
 *
 * Consecutive offsets, timestamps, LSNs and ids, which dictionaries cannot
 * shrink, differ by small steps: a block of them takes a few bits per value
 * instead of 4 or 8 bytes.
 */
#include "delta.h"

#include <string.h>

enum { MINI = DELTA_BLOCK / DELTA_MINIBLOCKS }; /* values per miniblock, a multiple of 32 */

static void put_uleb(struct buf *out, uint64_t v)
{
    while (v >= 0x80) {
        buf_push(out, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    buf_push(out, (uint8_t)v);
}

static void put_zigzag(struct buf *out, int64_t v)
{
    uint64_t u = (uint64_t)v << 1;
    put_uleb(out, v < 0 ? ~u : u);
}

static int64_t load(const uint8_t *p, int width)
{
    if (width == 4) {
        int32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    int64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* b - a in the values' width, wrapped around. */
static int64_t step(int64_t a, int64_t b, int width)
{
    uint64_t d = (uint64_t)b - (uint64_t)a;
    return width == 4 ? (int64_t)(int32_t)(uint32_t)d : (int64_t)d;
}

static int bits_of(uint64_t x)
{
    return x == 0 ? 0 : 64 - __builtin_clzll(x);
}

/* MINI values of bits each, LSB first: MINI * bits / 8 bytes. */
static void pack(struct buf *out, const uint64_t *v, int bits)
{
    if (bits == 0)
        return;
    buf_reserve(out, (size_t)MINI * (size_t)bits / 8);
    uint64_t acc = 0;
    int used = 0; /* bits of acc taken */
    for (size_t i = 0; i < MINI; i++) {
        uint64_t x = v[i];
        acc |= x << used;
        if (used + bits < 64) {
            used += bits;
            continue;
        }
        for (int k = 0; k < 8; k++)
            out->data[out->len++] = (uint8_t)(acc >> (8 * k));
        int spilled = used + bits - 64; /* x's bits that did not fit */
        acc = spilled > 0 ? x >> (bits - spilled) : 0;
        used = spilled;
    }
    for (int k = 0; k < (used + 7) / 8; k++)
        out->data[out->len++] = (uint8_t)(acc >> (8 * k));
}

void delta_encode(struct buf *out, const uint8_t *values, size_t n, int width)
{
    put_uleb(out, DELTA_BLOCK);
    put_uleb(out, DELTA_MINIBLOCKS);
    put_uleb(out, n);
    int64_t prev = n > 0 ? load(values, width) : 0;
    put_zigzag(out, prev);
    int64_t d[DELTA_BLOCK];
    uint64_t above[DELTA_BLOCK];
    for (size_t i = 1; i < n;) {
        size_t m = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
        int64_t least = 0;
        for (size_t k = 0; k < m; k++) {
            int64_t x = load(values + (i + k) * (size_t)width, width);
            d[k] = step(prev, x, width);
            prev = x;
            if (k == 0 || d[k] < least)
                least = d[k];
        }
        for (size_t k = 0; k < DELTA_BLOCK; k++) /* the last miniblock is padded with zeros */
            above[k] = k < m ? (uint64_t)d[k] - (uint64_t)least : 0;
        put_zigzag(out, least);
        size_t minis = (m + MINI - 1) / MINI;
        int bits[DELTA_MINIBLOCKS] = {0}; /* unused miniblocks: width 0, no body */
        for (size_t b = 0; b < minis; b++) {
            uint64_t any = 0;
            for (size_t k = b * MINI; k < (b + 1) * MINI; k++)
                any |= above[k];
            bits[b] = bits_of(any);
        }
        for (size_t b = 0; b < DELTA_MINIBLOCKS; b++)
            buf_push(out, (uint8_t)bits[b]);
        for (size_t b = 0; b < minis; b++)
            pack(out, above + b * MINI, bits[b]);
        i += m;
    }
}
