/* Unit tests of rle.c against byte sequences computed by hand from the
 * Parquet format's Encodings.md (RLE/bit-packing hybrid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "assert_bytes.h"
#include "rle.h"

/* The specification's example: 0..7 with bit width 3 packs to
 * 10001000 11000110 11111010; one group of 8 gives the header (1 << 1) | 1. */
static void test_spec_bit_packing_example(void **state)
{
    (void)state;
    const uint32_t v[] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct buf b = {0};
    rle_encode_u32(&b, v, 8, 3);
    ASSERT_BYTES(&b, 0x03, 0x88, 0xc6, 0xfa);
    buf_free(&b);
}

static void test_rle_run(void **state)
{
    (void)state;
    uint32_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 5;
    struct buf b = {0};
    rle_encode_u32(&b, v, 100, 3); /* header varint(100 << 1) = c8 01, value in 1 byte */
    ASSERT_BYTES(&b, 0xc8, 0x01, 0x05);
    buf_reset(&b);
    uint32_t wide[8] = {0x1234, 0x1234, 0x1234, 0x1234, 0x1234, 0x1234, 0x1234, 0x1234};
    rle_encode_u32(&b, wide, 8, 13); /* 13 bits: the value takes 2 bytes, little-endian */
    ASSERT_BYTES(&b, 0x10, 0x34, 0x12);
    buf_free(&b);
}

static void test_short_tail_is_padded_bit_packing(void **state)
{
    (void)state;
    const uint8_t levels[] = {1, 0, 1}; /* 3 values: one padded group of 8 */
    struct buf b = {0};
    rle_encode_u8(&b, levels, 3, 1);
    ASSERT_BYTES(&b, 0x03, 0x05);
    buf_free(&b);
}

static void test_mixed_runs(void **state)
{
    (void)state;
    /* 8 literals (bit width 1), then 10 ones as a run, then 2 literals. */
    const uint8_t levels[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    struct buf b = {0};
    rle_encode_u8(&b, levels, sizeof levels, 1);
    ASSERT_BYTES(&b, 0x03, 0x55, /* groups=1 bit-packed: 0b01010101 */
                 0x14, 0x01,     /* RLE: 10 << 1 = 20, value 1 */
                 0x03, 0x02);    /* bit-packed tail: 0, 1 -> 0b10 */
    buf_free(&b);
}

static void test_run_inside_literal_group_stays_literal_until_boundary(void **state)
{
    (void)state;
    /* A run of 8 starting at index 3 does not begin at a group boundary: the
     * first group is literal, and what remains of the run (3 values) too. */
    const uint8_t levels[] = {0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    struct buf b = {0};
    rle_encode_u8(&b, levels, sizeof levels, 1);
    /* two groups bit-packed: 0b11111010, 0b00000111 */
    ASSERT_BYTES(&b, 0x05, 0xfa, 0x07);
    buf_free(&b);
}

static void test_bit_width(void **state)
{
    (void)state;
    assert_int_equal(rle_bit_width(0), 1);
    assert_int_equal(rle_bit_width(1), 1);
    assert_int_equal(rle_bit_width(2), 2);
    assert_int_equal(rle_bit_width(3), 2);
    assert_int_equal(rle_bit_width(255), 8);
    assert_int_equal(rle_bit_width(256), 9);
    assert_int_equal(rle_bit_width(UINT32_MAX), 32);
}

static void test_wide_bit_packing(void **state)
{
    (void)state;
    /* 32-bit values pack as plain little-endian words. */
    const uint32_t v[] = {0xdeadbeef, 1, 2, 3, 4, 5, 6, 0xffffffff};
    struct buf b = {0};
    rle_encode_u32(&b, v, 8, 32);
    ASSERT_BYTES(&b, 0x03, 0xef, 0xbe, 0xad, 0xde, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0,
                 0, 5, 0, 0, 0, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff);
    buf_free(&b);
}

/* The mixed example above, read from a bitmap that starts 3 bits in. */
static void test_bits_from_a_bitmap(void **state)
{
    (void)state;
    const uint8_t levels[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    uint8_t bits[4] = {0xFF, 0, 0, 0xFF}; /* bits outside the levels are set: they must not count */
    bits[0] = 0x07;
    for (size_t k = 0; k < sizeof levels; k++) {
        size_t i = 3 + k;
        bits[i / 8] = (uint8_t)((bits[i / 8] & ~(1u << (i % 8))) | ((unsigned)levels[k] << (i % 8)));
    }
    struct buf b = {0};
    rle_encode_bits(&b, bits, 3, sizeof levels);
    ASSERT_BYTES(&b, 0x03, 0x55, 0x14, 0x01, 0x03, 0x02);
    buf_free(&b);
}

/* Bitmaps of every density (all clear, sparse, half, dense, all set) from
 * every start offset within a byte: the same bytes as the byte encoder. */
static void test_bits_match_byte_levels(void **state)
{
    (void)state;
    enum { N = 3000 };
    static uint8_t levels[N], bits[N / 8 + 1];
    const unsigned every[] = {0, 61, 7, 2, 1}; /* a 1 where the pseudo-random x % every == 0 */
    uint32_t x = 12345;
    struct buf want = {0}, got = {0};
    for (size_t d = 0; d < sizeof every / sizeof every[0]; d++) {
        memset(bits, 0, sizeof bits);
        for (size_t i = 0; i < N; i++) {
            x = x * 1103515245u + 12345u;
            levels[i] = every[d] == 0 ? 0 : every[d] == 1 ? 1 : (x >> 16) % every[d] == 0;
            if (d == 3 && i > 1000 && i < 1400)
                levels[i] = 1; /* a long run inside a dense part */
            bits[i / 8] |= (uint8_t)(levels[i] << (i % 8));
        }
        for (size_t start = 0; start < 16; start++) {
            for (size_t n = 0; n + start <= N; n += n < 40 ? 1 : 997) {
                buf_reset(&want);
                buf_reset(&got);
                rle_encode_u8(&want, levels + start, n, 1);
                rle_encode_bits(&got, bits, start, n);
                assert_int_equal(got.len, want.len);
                if (want.len > 0)
                    assert_memory_equal(got.data, want.data, want.len);
            }
        }
    }
    buf_free(&want);
    buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_bit_packing_example),
        cmocka_unit_test(test_rle_run),
        cmocka_unit_test(test_short_tail_is_padded_bit_packing),
        cmocka_unit_test(test_mixed_runs),
        cmocka_unit_test(test_run_inside_literal_group_stays_literal_until_boundary),
        cmocka_unit_test(test_bit_width),
        cmocka_unit_test(test_wide_bit_packing),
        cmocka_unit_test(test_bits_from_a_bitmap),
        cmocka_unit_test(test_bits_match_byte_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
