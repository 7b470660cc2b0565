/* Unit tests of delta.c: the byte sequences of the Parquet format's two
 * DELTA_BINARY_PACKED examples (Encodings.md), worked out by hand, and a
 * decoder written here from the same text that reads back sequences of every
 * kind (wrapping steps, full-width values, partial blocks and miniblocks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "assert_bytes.h"
#include "delta.h"

/* 1, 2, 3, 4, 5: every delta is the smallest (1), so each miniblock is 0 bits
 * wide and has no body. Header: 128 (80 01), 4 miniblocks, 5 values, first
 * value 1 (zigzag 02); the block: least delta 1 (02), four widths of 0. */
static void test_spec_example_one(void **state)
{
    (void)state;
    const int32_t v[] = {1, 2, 3, 4, 5};
    struct buf b = {0};
    delta_encode(&b, (const uint8_t *)v, 5, 4);
    ASSERT_BYTES(&b, 0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00);
    buf_free(&b);
}

/* 7, 5, 3, 1, 2, 3, 4, 5: deltas -2 -2 -2 1 1 1 1, least -2 (zigzag 03), so
 * 0 0 0 3 3 3 3 in 2 bits: c0 3f, and the miniblock padded to 32 values
 * (8 bytes in all); the other three miniblocks are unused. */
static void test_spec_example_two(void **state)
{
    (void)state;
    const int64_t v[] = {7, 5, 3, 1, 2, 3, 4, 5};
    struct buf b = {0};
    delta_encode(&b, (const uint8_t *)v, 8, 8);
    ASSERT_BYTES(&b, 0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0x00, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00,
                 0x00, 0x00, 0x00, 0x00);
    buf_free(&b);
}

static void test_empty_and_single(void **state)
{
    (void)state;
    struct buf b = {0};
    delta_encode(&b, NULL, 0, 8);
    ASSERT_BYTES(&b, 0x80, 0x01, 0x04, 0x00, 0x00);
    buf_reset(&b);
    const int64_t one = -3;
    delta_encode(&b, (const uint8_t *)&one, 1, 8);
    ASSERT_BYTES(&b, 0x80, 0x01, 0x04, 0x01, 0x05);
    buf_free(&b);
}

/* ---------- a reader, from the format's text ---------- */

struct reader {
    const uint8_t *p, *end;
};

static uint64_t uleb(struct reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return v;
    }
    fail_msg("truncated varint");
    return 0;
}

static int64_t zigzag(struct reader *r)
{
    uint64_t u = uleb(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Bit i of a little-endian, LSB-first bit stream. */
static unsigned bit_at(const uint8_t *p, size_t i)
{
    return (p[i / 8] >> (i % 8)) & 1u;
}

/* Decodes into out (n values of width bytes); returns the bytes read. */
static size_t decode(const uint8_t *data, size_t len, uint8_t *out, size_t n, int width)
{
    struct reader r = {data, data + len};
    uint64_t block = uleb(&r), minis = uleb(&r), count = uleb(&r);
    assert_int_equal(count, n);
    assert_true(block % 128 == 0 && minis > 0 && (block / minis) % 32 == 0);
    uint64_t value = (uint64_t)zigzag(&r); /* there even when n is 0 */
    if (n == 0)
        return (size_t)(r.p - data);
    size_t got = 0;
    memcpy(out, &value, (size_t)width); /* little-endian: the low bytes */
    got++;
    size_t per_mini = (size_t)(block / minis);
    while (got < n) {
        uint64_t least = (uint64_t)zigzag(&r);
        const uint8_t *widths = r.p;
        r.p += minis;
        for (size_t m = 0; m < minis && got < n; m++) {
            unsigned bits = widths[m];
            assert_true(bits <= (unsigned)(8 * width));
            for (size_t k = 0; k < per_mini; k++) {
                uint64_t d = 0;
                for (unsigned i = 0; i < bits; i++)
                    d |= (uint64_t)bit_at(r.p, k * bits + i) << i;
                if (got < n) {
                    value += least + d;
                    memcpy(out + got * (size_t)width, &value, (size_t)width);
                    got++;
                }
            }
            r.p += per_mini * bits / 8;
        }
    }
    assert_true(r.p <= r.end);
    return (size_t)(r.p - data);
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void round_trip(const void *values, size_t n, int width)
{
    struct buf b = {0};
    delta_encode(&b, values, n, width);
    uint8_t *back = test_malloc(n * (size_t)width + 1);
    assert_int_equal(decode(b.data, b.len, back, n, width), b.len);
    assert_memory_equal(back, values, n * (size_t)width);
    test_free(back);
    buf_free(&b);
}

static void test_round_trips(void **state)
{
    (void)state;
    enum { N = 1000 };
    static int64_t v64[N];
    static int32_t v32[N];
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t n = 0; n <= 300; n += (n < 140 ? 1 : 37)) { /* partial blocks and miniblocks */
        for (size_t i = 0; i < n; i++) {
            v64[i] = (int64_t)(1u << 20) + (int64_t)i * 3 + (int64_t)(next_random(&s) % 5);
            v32[i] = (int32_t)i * -7;
        }
        round_trip(v64, n, 8);
        round_trip(v32, n, 4);
    }
    for (size_t i = 0; i < N; i++) { /* full width: 64 and 32 bits */
        v64[i] = (int64_t)next_random(&s);
        v32[i] = (int32_t)(uint32_t)next_random(&s);
    }
    round_trip(v64, N, 8);
    round_trip(v32, N, 4);
    for (size_t i = 0; i < N; i++) { /* across the ends: steps that wrap around */
        v64[i] = (int64_t)(UINT64_C(0x7fffffffffffff00) + (uint64_t)i);
        v32[i] = (int32_t)(UINT32_C(0x7ffffe00) + (uint32_t)i * 5);
    }
    round_trip(v64, N, 8);
    round_trip(v32, N, 4);
    struct buf b = {0};
    delta_encode(&b, (const uint8_t *)v64, N, 8); /* steps of one: no body at all */
    assert_true(b.len < 20 + (N / DELTA_BLOCK + 1) * (1 + DELTA_MINIBLOCKS));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example_one),
        cmocka_unit_test(test_spec_example_two),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
