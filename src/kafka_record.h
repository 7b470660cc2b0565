/* kafka_record.h -- the Kafka record around a message value, and the text of
 * its key and headers for the _kafka_key and _kafka_headers columns.
 *
 * Contract
 * - kafka_key_text(): a null key, and a key that is JSON null (bare, or as
 *   the payload of the JSON converter's {"schema":..,"payload":..} wrapper),
 *   have no text. A JSON key is its exact text, without the wrapper when it
 *   has one (then the payload's exact text). A UTF-8 key that is not JSON is
 *   its text as it is; a key that is not UTF-8 is {"base64":"<its bytes>"}.
 * - kafka_headers_json(): the headers as one JSON object, in their order,
 *   each name to its value: a UTF-8 value as a JSON string, a null value as
 *   null, any other value as {"base64":"<its bytes>"}. A name that occurs
 *   more than once maps to the array of its values, in order. A byte of a
 *   name that is not UTF-8 becomes U+FFFD. No headers: no text.
 * - Both append to out and return false when there is no text (nothing
 *   appended).
 */
#ifndef CDCW_KAFKA_RECORD_H
#define CDCW_KAFKA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json_scan.h"

/* What the column buffers keep of a record besides its value. */
struct kafka_record {
    int64_t offset;
    int64_t timestamp_ms; /* negative: the record has none */
    const void *key;      /* NULL: a null key */
    size_t key_len;
    const char *headers;  /* kafka_headers_json()'s text; NULL: none, or not wanted */
    size_t headers_len;
};

struct kafka_header {
    const char *name; /* NUL-terminated */
    const void *value; /* NULL: a null value */
    size_t len;
};

/* scan is scratch for the JSON check, reused across calls. */
bool kafka_key_text(struct json_scan *scan, const void *key, size_t len, struct buf *out);

bool kafka_headers_json(const struct kafka_header *headers, size_t n, struct buf *out);

#endif
