/* base64.h -- standard base64 (RFC 4648, with padding), as Kafka Connect's
 * JSON converter writes bytes and decimals. */
#ifndef CDCW_BASE64_H
#define CDCW_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the decoded bytes of text[0..len) to out; false when the text is
 * not valid base64 (bad character, bad length or bad padding). */
bool base64_decode(const char *text, size_t len, struct buf *out);

/* Appends the base64 text of data[0..len) to out, padded. */
void base64_encode(const void *data, size_t len, struct buf *out);

#endif
