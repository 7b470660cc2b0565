/* rle.h -- Parquet's RLE/bit-packed hybrid encoding (definition and
 * repetition levels, dictionary indices).
 *
 * Contract
 * - rle_encode_*() append the hybrid encoding of n values of bit_width bits
 *   (1..32) to out, without any length prefix (the caller adds the 4-byte
 *   length of V1 level data, or the bit-width byte of dictionary indices).
 * - Runs of 8 or more equal values become RLE runs; everything else is
 *   bit-packed in groups of 8, LSB first. Only the stream's last group is
 *   padded (with zeros), which readers ignore because they know n.
 */
#ifndef CDCW_RLE_H
#define CDCW_RLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void rle_encode_u32(struct buf *out, const uint32_t *values, size_t n, int bit_width);
void rle_encode_u8(struct buf *out, const uint8_t *values, size_t n, int bit_width);
/* The same for n levels of bit width 1 read from a bitmap: level k is bit
 * start + k of bits (bit i is bits[i / 8] >> (i % 8) & 1). Gives the bytes
 * rle_encode_u8() gives for those levels, without a byte per level. */
void rle_encode_bits(struct buf *out, const uint8_t *bits, size_t start, size_t n);

/* Bits needed for max_value, at least 1. */
int rle_bit_width(uint32_t max_value);

#endif
