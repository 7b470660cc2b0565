/* utf8.h -- UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
#ifndef CDCW_UTF8_H
#define CDCW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is valid UTF-8; otherwise *bad_offset (when not NULL)
 * is the offset of the first byte of the first invalid sequence. */
bool utf8_valid(const void *s, size_t len, size_t *bad_offset);

#endif
