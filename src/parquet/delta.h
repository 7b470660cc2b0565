/* delta.h -- Parquet's DELTA_BINARY_PACKED encoding of INT32 and INT64
 * values (data pages only).
 *
 * Contract
 * - delta_encode() appends the encoding of n values of width bytes (4 or 8,
 *   little-endian, as the writer buffers them, alignment not needed) to out:
 *   the header (blocks of DELTA_BLOCK values in DELTA_MINIBLOCKS miniblocks,
 *   the count, the first value), then per block the smallest delta and each
 *   miniblock's bit width and its deltas above the smallest, bit-packed.
 * - Deltas wrap around in the values' width, as readers add them, so any
 *   sequence is encoded (a large jump just takes wide miniblocks).
 * - n == 0 writes the header alone.
 * - Assumes two's complement conversions (gcc and clang).
 */
#ifndef CDCW_DELTA_H
#define CDCW_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { DELTA_BLOCK = 128, DELTA_MINIBLOCKS = 4 };

void delta_encode(struct buf *out, const uint8_t *values, size_t n, int width);

#endif
