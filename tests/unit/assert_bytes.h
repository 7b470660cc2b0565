/* assert_bytes.h -- ASSERT_BYTES(b, ...): the struct buf *b holds exactly
 * these bytes. For unit tests of encoders, after <cmocka.h>. */
#ifndef CDCW_TEST_ASSERT_BYTES_H
#define CDCW_TEST_ASSERT_BYTES_H

#include <stdint.h>

#define ASSERT_BYTES(b, ...)                                                                   \
    do {                                                                                       \
        const uint8_t expected[] = {__VA_ARGS__};                                              \
        assert_int_equal((b)->len, sizeof expected);                                           \
        assert_memory_equal((b)->data, expected, sizeof expected);                             \
    } while (0)

#endif
